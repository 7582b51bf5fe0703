#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

namespace scripted_model {

/// Makes ids that are unique across requests and across processes: a random per-process part
/// and a counter (`msg_0123456789abcdef00000001`). Thread-safe.
class id_source {
 public:
  /// Seeds the per-process part from a random device.
  id_source();

  /// The next id with `prefix` (`msg_`, `toolu_`, `req_`).
  std::string next(std::string_view prefix);

 private:
  std::uint64_t seed_;
  std::atomic<std::uint64_t> counter_{0};
};

}  // namespace scripted_model
