#pragma once

#include <iosfwd>
#include <string>
#include <string_view>

namespace caa {

/// A credential (API key, token, password). It cannot be compared with `==`, streamed, or
/// converted to a string implicitly, so it cannot reach a log line or a `std::string` by
/// accident. The buffer is wiped on destruction.
class secret {
 public:
  /// Takes ownership of `value`.
  explicit secret(std::string value) noexcept : value_(std::move(value)) {}

  secret(const secret&) = default;
  secret(secret&&) noexcept = default;
  /// Copy-and-swap: the previous value ends in `other` and is wiped with it.
  secret& operator=(secret other) noexcept {
    value_.swap(other.value_);
    return *this;
  }
  ~secret();

  /// The plain value, for the single place that must use it (hashing, the child's env).
  [[nodiscard]] const std::string& reveal() const noexcept { return value_; }

  /// Always "<redacted>".
  [[nodiscard]] static constexpr std::string_view redacted() noexcept { return "<redacted>"; }

  /// Number of bytes of the value (length is not considered secret here).
  [[nodiscard]] std::size_t size() const noexcept { return value_.size(); }

  /// Secrets compare only through `ct_equal`.
  friend bool operator==(const secret&, const secret&) = delete;

  /// Secrets are never printed.
  friend std::ostream& operator<<(std::ostream&, const secret&) = delete;

 private:
  std::string value_;
};

/// Compares `x` with `candidate` in time independent of their contents: both are hashed
/// (SHA-256) and the digests compared with `CRYPTO_memcmp`; never exits early.
[[nodiscard]] bool ct_equal(const secret& x, std::string_view candidate) noexcept;

}  // namespace caa
