#include "transport/http/correlation.hpp"

#include <openssl/rand.h>

#include <array>
#include <cstdint>
#include <random>

namespace caa::http {

namespace {

/// Fills `out` with random bytes: OpenSSL's CSPRNG, or std::random_device if it ever fails.
void random_bytes(std::array<uint8_t, 16>& out) {
  if (RAND_bytes(out.data(), static_cast<int>(out.size())) == 1) return;
  thread_local std::random_device rd;
  for (auto& b : out) b = static_cast<uint8_t>(rd());
}

}  // namespace

bool is_sane_correlation_id(std::string_view x) noexcept {
  if (x.empty() || x.size() > 64) return false;
  for (char c : x) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::string new_correlation_id() {
  std::array<uint8_t, 16> b{};
  random_bytes(b);
  b[6] = static_cast<uint8_t>((b[6] & 0x0f) | 0x40);  // version 4
  b[8] = static_cast<uint8_t>((b[8] & 0x3f) | 0x80);  // RFC 4122 variant
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (size_t i = 0; i < b.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    out += hex[b[i] >> 4];
    out += hex[b[i] & 0xf];
  }
  return out;
}

std::string correlation_id_for(std::string_view presented) {
  if (is_sane_correlation_id(presented)) return std::string{presented};
  return new_correlation_id();
}

}  // namespace caa::http
