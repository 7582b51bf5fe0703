#include "actors/health_board.hpp"

namespace caa {

void health_board::set_postgres(bool ok, double latency_ms) {
  std::lock_guard<std::mutex> guard{mtx_};
  state_.postgres = {true, ok, latency_ms};
}

void health_board::set_redis(bool ok, double latency_ms) {
  std::lock_guard<std::mutex> guard{mtx_};
  state_.redis = {true, ok, latency_ms};
}

void health_board::set_cli(bool ok, double latency_ms) {
  std::lock_guard<std::mutex> guard{mtx_};
  state_.cli = {true, ok, latency_ms};
}

void health_board::set_draining() {
  std::lock_guard<std::mutex> guard{mtx_};
  state_.draining = true;
}

health_snapshot health_board::snapshot() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return state_;
}

}  // namespace caa
