#include "config/secret.hpp"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <array>

namespace caa {

secret::~secret() {
  // Overwrite the whole buffer (SSO or heap) before the string releases it.
  value_.resize(value_.capacity());
  OPENSSL_cleanse(value_.data(), value_.size());
}

bool ct_equal(const secret& x, std::string_view candidate) noexcept {
  std::array<unsigned char, SHA256_DIGEST_LENGTH> a{};
  std::array<unsigned char, SHA256_DIGEST_LENGTH> b{};
  const auto& plain = x.reveal();
  SHA256(reinterpret_cast<const unsigned char*>(plain.data()), plain.size(), a.data());
  SHA256(reinterpret_cast<const unsigned char*>(candidate.data()), candidate.size(), b.data());
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace caa
