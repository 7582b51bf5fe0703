#include "transport/api/openai_ids.hpp"

#include "config/uuid.hpp"
#include "storage/crypto.hpp"

#include <cctype>
#include <charconv>
#include <cstdio>

namespace caa::api::openai {

namespace {

std::string lowered(std::string_view s) {
  std::string out{s};
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

std::string user_tag(std::string_view user) {
  auto d = storage::sha256(user);
  std::string out = "openai-user:";
  char hex[3];
  for (size_t i = 0; i < 12; ++i) {
    std::snprintf(hex, sizeof hex, "%02x", d[i]);
    out += hex;
  }
  return out;
}

std::string response_id(std::string_view session_id, uint64_t after_seq, int64_t created) {
  std::string out = "resp_";
  for (char c : session_id)
    if (c != '-') out += c;
  out += '_';
  out += std::to_string(after_seq);
  out += '_';
  out += std::to_string(created);
  return out;
}

std::optional<response_ref> parse_response_id(std::string_view id) {
  constexpr std::string_view prefix = "resp_";
  if (id.substr(0, prefix.size()) != prefix) return std::nullopt;
  id.remove_prefix(prefix.size());
  if (id.size() < 32 + 4 || id[32] != '_') return std::nullopt;
  auto hex = id.substr(0, 32);
  std::string uuid;
  for (size_t i = 0; i < hex.size(); ++i) {
    if (i == 8 || i == 12 || i == 16 || i == 20) uuid += '-';
    uuid += hex[i];
  }
  if (!is_uuid(uuid)) return std::nullopt;
  auto rest = id.substr(33);
  auto sep = rest.find('_');
  if (sep == std::string_view::npos) return std::nullopt;
  response_ref ref;
  ref.session_id = lowered(uuid);
  auto seq = rest.substr(0, sep);
  auto created = rest.substr(sep + 1);
  auto r1 = std::from_chars(seq.data(), seq.data() + seq.size(), ref.after_seq);
  auto r2 = std::from_chars(created.data(), created.data() + created.size(), ref.created);
  if (r1.ec != std::errc{} || r1.ptr != seq.data() + seq.size() || r2.ec != std::errc{} ||
      r2.ptr != created.data() + created.size() || seq.empty() || created.empty())
    return std::nullopt;
  return ref;
}

}  // namespace caa::api::openai
