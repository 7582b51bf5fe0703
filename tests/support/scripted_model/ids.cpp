#include "ids.hpp"

#include <cstdio>
#include <random>

namespace scripted_model {

id_source::id_source() {
  std::random_device rd;
  seed_ = (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
}

std::string id_source::next(std::string_view prefix) {
  char buf[40];
  const auto n = counter_.fetch_add(1, std::memory_order_relaxed) + 1;
  std::snprintf(buf, sizeof buf, "%016llx%08llx", static_cast<unsigned long long>(seed_),
                static_cast<unsigned long long>(n));
  return std::string(prefix) + buf;
}

}  // namespace scripted_model
