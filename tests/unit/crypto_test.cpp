// SHA-256 known vectors, constant-time comparison, encodings and key material.

#include "storage/crypto.hpp"
#include "storage/postgres/key_queries.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>

using namespace caa::storage;

TEST(crypto, sha256_known_vectors) {
  EXPECT_EQ(to_hex(sha256("")), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(to_hex(sha256("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(to_hex(sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(to_hex(sha256(std::string(1'000'000, 'a'))),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(crypto, sha1_known_vector) {
  EXPECT_EQ(sha1_hex("abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
}

TEST(crypto, ct_equal_compares_contents_and_length) {
  auto a = sha256("a");
  auto b = sha256("a");
  auto c = sha256("b");
  EXPECT_TRUE(ct_equal(a, b));
  EXPECT_FALSE(ct_equal(a, c));
  EXPECT_FALSE(ct_equal(std::span<const uint8_t>{a}.first(31), b));
  EXPECT_TRUE(ct_equal(std::string_view{}, std::string_view{}));
  EXPECT_TRUE(ct_equal(std::string_view{"secret"}, std::string_view{"secret"}));
  EXPECT_FALSE(ct_equal(std::string_view{"secret"}, std::string_view{"secreT"}));
  EXPECT_FALSE(ct_equal(std::string_view{"secret"}, std::string_view{"secret2"}));
}

TEST(crypto, base64url_rfc4648_vectors_without_padding) {
  auto enc = [](std::string_view s) {
    return base64url({reinterpret_cast<const uint8_t*>(s.data()), s.size()});
  };
  EXPECT_EQ(enc(""), "");
  EXPECT_EQ(enc("f"), "Zg");
  EXPECT_EQ(enc("fo"), "Zm8");
  EXPECT_EQ(enc("foo"), "Zm9v");
  EXPECT_EQ(enc("foob"), "Zm9vYg");
  EXPECT_EQ(enc("fooba"), "Zm9vYmE");
  EXPECT_EQ(enc("foobar"), "Zm9vYmFy");
  const uint8_t high[] = {0xfb, 0xff};
  EXPECT_EQ(base64url(high), "-_8");
}

TEST(crypto, random_bytes_differ) {
  EXPECT_EQ(random_bytes(32).size(), 32u);
  EXPECT_NE(random_bytes(32), random_bytes(32));
}

TEST(crypto, generated_keys_have_the_documented_shape) {
  std::set<std::string> seen;
  for (int i = 0; i < 50; ++i) {
    auto k = generate_key_material();
    const auto& text = k.plaintext.reveal();
    ASSERT_EQ(text.size(), 4u + 43u);
    EXPECT_TRUE(text.starts_with("caa_"));
    EXPECT_EQ(text.find_first_not_of(
                  "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_", 4),
              std::string::npos);
    EXPECT_EQ(k.prefix, text.substr(0, 12));
    EXPECT_EQ(k.hash_hex, to_hex(sha256(text)));
    seen.insert(text);
  }
  EXPECT_EQ(seen.size(), 50u);
}
