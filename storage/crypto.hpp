#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace caa::storage {

/// A SHA-256 digest.
using sha256_digest = std::array<uint8_t, 32>;

/// The SHA-256 digest of `data` (OpenSSL EVP).
sha256_digest sha256(std::string_view data);

/// Compares two byte ranges in time that depends only on their length (CRYPTO_memcmp).
/// Ranges of different lengths are unequal.
bool ct_equal(std::span<const uint8_t> a, std::span<const uint8_t> b) noexcept;

/// Compares two strings in time that depends only on their length.
bool ct_equal(std::string_view a, std::string_view b) noexcept;

/// `n` bytes from the OpenSSL CSPRNG (RAND_bytes); throws std::runtime_error if it fails,
/// which only happens when the process cannot be trusted to make keys.
std::vector<uint8_t> random_bytes(std::size_t n);

/// Lower-case hexadecimal of `bytes`.
std::string to_hex(std::span<const uint8_t> bytes);

/// Unpadded base64url (RFC 4648 section 5) of `bytes`.
std::string base64url(std::span<const uint8_t> bytes);

/// The lower-case hex SHA-1 of `data` (Redis script ids; not for security).
std::string sha1_hex(std::string_view data);

}  // namespace caa::storage
