#include "storage/redis/node_directory.hpp"

#include <charconv>

namespace caa::storage {

namespace {

constexpr std::string_view record_version = "v2";
/// The records of nodes that do not announce a budget yet (read, never written).
constexpr std::string_view record_version_1 = "v1";
constexpr std::string_view alive_prefix = "caa:cluster:node:";
constexpr std::string_view index_key = "caa:cluster:nodes";

/// Splits `text` at single spaces.
std::vector<std::string_view> words(std::string_view text) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    auto end = text.find(' ', start);
    if (end == std::string_view::npos) end = text.size();
    out.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

template <class T>
bool read_number(std::string_view text, T& out) {
  if (text.empty()) return false;
  auto res = std::from_chars(text.data(), text.data() + text.size(), out);
  return res.ec == std::errc{} && res.ptr == text.data() + text.size();
}

}  // namespace

std::string encode_node_record(const node_record& x) {
  std::string out{record_version};
  for (const auto& w :
       {x.node_id, x.host, std::to_string(x.port), std::to_string(x.sessions),
        std::to_string(x.processes), std::to_string(x.heartbeat_ms), std::to_string(x.budget)})
    out.append(" ").append(w);
  return out;
}

std::optional<node_record> parse_node_record(std::string_view text) {
  auto ws = words(text);
  bool v2 = ws.size() == 8 && ws[0] == record_version;
  bool v1 = ws.size() == 7 && ws[0] == record_version_1;
  if ((!v1 && !v2) || ws[1].empty() || ws[2].empty()) return std::nullopt;
  node_record x;
  x.node_id = std::string{ws[1]};
  x.host = std::string{ws[2]};
  if (!read_number(ws[3], x.port) || !read_number(ws[4], x.sessions) ||
      !read_number(ws[5], x.processes) || !read_number(ws[6], x.heartbeat_ms) ||
      (v2 && !read_number(ws[7], x.budget)))
    return std::nullopt;
  return x;
}

std::string node_alive_key(std::string_view id) {
  return std::string{alive_prefix}.append(id);
}

std::string_view node_index_key() {
  return index_key;
}

redis_command announce_command(const node_record& x, std::chrono::milliseconds ttl) {
  return {{"SET", node_alive_key(x.node_id), encode_node_record(x), "PX",
           std::to_string(std::max<int64_t>(1, ttl.count()))}};
}

redis_command index_command(const node_record& x) {
  return {{"HSET", std::string{index_key}, x.node_id, encode_node_record(x)}};
}

redis_command list_command() {
  return {{"HGETALL", std::string{index_key}}};
}

redis_command alive_command(const std::vector<std::string>& ids) {
  redis_command cmd{{"MGET"}};
  for (const auto& id : ids) cmd.args.push_back(node_alive_key(id));
  return cmd;
}

redis_command forget_command(const std::vector<std::string>& ids) {
  redis_command cmd{{"HDEL", std::string{index_key}}};
  cmd.args.insert(cmd.args.end(), ids.begin(), ids.end());
  return cmd;
}

std::optional<std::vector<node_record>> parse_node_index(const redis_reply& r) {
  if (r.kind != redis_reply_kind::array) return std::nullopt;
  std::vector<node_record> out;
  for (std::size_t i = 0; i + 1 < r.elements.size(); i += 2) {
    auto x = parse_node_record(r.elements[i + 1]);
    if (x && x->node_id == r.elements[i]) out.push_back(std::move(*x));
  }
  return out;
}

std::optional<std::vector<bool>> parse_alive(const redis_reply& r, std::size_t n) {
  if (r.kind != redis_reply_kind::array || r.elements.size() != n) return std::nullopt;
  std::vector<bool> out;
  out.reserve(n);
  for (const auto& e : r.elements) out.push_back(!e.empty());
  return out;
}

}  // namespace caa::storage
