# claude-agent-api: the two front-door commands are `make run` and `make test`.
SHELL := /bin/bash
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)
export CCACHE_SLOPPINESS := pch_defines,time_macros,include_file_mtime,include_file_ctime
export CCACHE_DIR ?= $(HOME)/.cache/ccache
# Cache hits across checkouts (CI builds a fresh clone in another folder).
export CCACHE_BASEDIR := $(CURDIR)
export CCACHE_NOHASHDIR := 1

.PHONY: all setup configure build build-service test test-unit run services-start services-stop asan format lint fuzz clean

all: build

setup:
	@bash scripts/setup.sh

configure: setup
	@cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) >/dev/null

build: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS)
	@test -x $(BUILD_DIR)/bin/claude-agent-api

# Only what `make run` needs: the service and the offline model.
build-service: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS) --target claude-agent-api scripted_model

test: build
	@bash scripts/test.sh $(BUILD_DIR)

test-unit: build
	@cd $(BUILD_DIR) && ctest -L unit --output-on-failure -j $(JOBS)

run: build-service
	@bash scripts/run.sh $(BUILD_DIR)

# The benchmark (bench/README.md): the service against the floor and the Node baselines.
.PHONY: bench
bench: setup
	@bash scripts/bench.sh build-release

# 100 concurrent sessions of the real CLI against the scripted model (docs/BENCHMARKS.md).
.PHONY: capacity
capacity: setup
	@bash scripts/capacity.sh $(BUILD_DIR)

services-start: setup
	@bash scripts/services.sh start

services-stop:
	@bash scripts/services.sh stop

asan: setup
	@cmake --preset asan -G Ninja >/dev/null && cmake --build build-asan -j $(JOBS)
	@bash scripts/test.sh build-asan

# libFuzzer targets (clang-14, ASan+UBSan), FUZZ_SECONDS (default 60) each (docs/FUZZING.md).
fuzz: setup
	@bash scripts/fuzz.sh

format:
	@git ls-files '*.cpp' '*.hpp' | xargs clang-format -i

# clang-format check, the layer check and the curated clang-tidy, zero findings (scripts/lint.sh).
# CI runs it before the tests.
lint: setup
	@bash scripts/lint.sh

clean:
	@rm -rf $(BUILD_DIR) build-asan build-release build-lint
