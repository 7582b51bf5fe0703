# Tests of transport/claude, the Claude Code CLI driver.
include(GoogleTest)

option(CAA_FUZZ "Build the libFuzzer targets (clang only)" OFF)

foreach(name cli_argv_test cli_env_policy_test line_framer_test control_codec_test)
  add_executable(${name} ${CMAKE_CURRENT_LIST_DIR}/unit/${name}.cpp)
  target_link_libraries(${name} PRIVATE caa_wire GTest::gtest_main)
  caa_target_defaults(${name})
  gtest_discover_tests(${name} PROPERTIES LABELS unit)
endforeach()

# Real processes: the pinned CLI (CLAUDE_CLI_PATH; skipped when unset), bubblewrap, shell fakes.
add_executable(cli_process_test ${CMAKE_CURRENT_LIST_DIR}/integration/cli_process_test.cpp
                                ${CMAKE_CURRENT_LIST_DIR}/integration/cli_process_stop_test.cpp)
target_link_libraries(cli_process_test PRIVATE caa_wire GTest::gtest_main)
caa_target_defaults(cli_process_test)
gtest_discover_tests(cli_process_test PROPERTIES LABELS integration TIMEOUT 180)

# libFuzzer target: the framer is compiled in, so it is coverage-instrumented.
if(CAA_FUZZ AND CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  add_executable(line_framer_fuzz ${CMAKE_CURRENT_LIST_DIR}/fuzz/line_framer_fuzz.cpp
                                  ${CMAKE_CURRENT_LIST_DIR}/../transport/claude/line_framer.cpp)
  target_compile_options(line_framer_fuzz PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_options(line_framer_fuzz PRIVATE -fsanitize=fuzzer,address,undefined)
  caa_target_defaults(line_framer_fuzz)
endif()
