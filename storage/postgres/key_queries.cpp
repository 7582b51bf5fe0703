#include "storage/postgres/key_queries.hpp"

#include "config/errc.hpp"
#include "config/uuid.hpp"
#include "storage/postgres/statements.hpp"

#include <algorithm>
#include <charconv>

namespace caa::storage {

namespace {

constexpr std::string_view key_scheme = "caa_";
constexpr std::size_t key_random_bytes = 32;
constexpr std::size_t max_key_name = 100;
constexpr std::size_t key_columns = 10;

bool is_lower_alnum(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

bool valid_key_name(std::string_view name) noexcept {
  if (name.empty() || name.size() > max_key_name) return false;
  return std::none_of(name.begin(), name.end(),
                      [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}

/// Sorted, de-duplicated scopes joined by ',' or an error when one is unknown or none given.
caf::expected<std::string> join_scopes(std::vector<std::string> scopes) {
  std::sort(scopes.begin(), scopes.end());
  scopes.erase(std::unique(scopes.begin(), scopes.end()), scopes.end());
  if (scopes.empty()) return make_error(errc::validation, "scopes: at least one of agent, admin");
  std::string out;
  for (const auto& s : scopes) {
    if (s != "agent" && s != "admin") return make_error(errc::validation, "scopes: unknown scope");
    if (!out.empty()) out += ',';
    out += s;
  }
  return out;
}

/// A uuid parameter; NULL (matches nothing) when `id` is not a uuid.
db_value uuid_param(std::string_view id) {
  if (!caa::is_uuid(id)) return caf::none;
  return std::string{id};
}

db_query query(std::string_view name, std::vector<db_value> params) {
  return db_query{std::string{name}, std::move(params)};
}

std::vector<std::string> split_scopes(const std::string& joined) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= joined.size() && !joined.empty()) {
    auto end = joined.find(',', start);
    if (end == std::string::npos) end = joined.size();
    out.emplace_back(joined.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

std::optional<std::string> opt(const db_value& v) {
  return v ? std::optional<std::string>{*v} : std::nullopt;
}

caf::expected<key_record> to_key_record(const db_row& row) {
  if (row.size() != key_columns || !row[0] || !row[1] || !row[2] || !row[3] || !row[4] || !row[5] ||
      !row[6])
    return make_error(errc::internal, "api_keys: unexpected row shape");
  key_record rec{*row[0], *row[1], *row[2],     *row[3],    split_scopes(*row[4]),
                 *row[5], *row[6], opt(row[7]), opt(row[8])};
  if (row[9]) {
    int64_t slot = -1;
    auto [end, ec] = std::from_chars(row[9]->data(), row[9]->data() + row[9]->size(), slot);
    if (ec == std::errc{} && end == row[9]->data() + row[9]->size()) rec.agent_slot = slot;
  }
  return rec;
}

}  // namespace

bool key_record::has_scope(std::string_view scope) const noexcept {
  return std::find(scopes.begin(), scopes.end(), scope) != scopes.end();
}

bool valid_tenant_name(std::string_view name) noexcept {
  if (name.empty() || name.size() > 63 || !is_lower_alnum(name[0])) return false;
  return std::all_of(name.begin() + 1, name.end(),
                     [](char c) { return is_lower_alnum(c) || c == '_' || c == '-'; });
}

key_material key_material_of(const secret& plaintext) {
  const auto& text = plaintext.reveal();
  auto digest = sha256(text);
  return key_material{plaintext, to_hex(digest), text.substr(0, key_prefix_length)};
}

key_material generate_key_material() {
  auto bytes = random_bytes(key_random_bytes);
  auto text = std::string{key_scheme} + base64url(bytes);
  std::fill(bytes.begin(), bytes.end(), uint8_t{0});
  return key_material_of(secret{std::move(text)});
}

caf::expected<db_query> make_ensure_tenant_query(std::string_view name) {
  if (!valid_tenant_name(name)) return make_error(errc::validation, "tenant: invalid name");
  return query(stmt::tenant_ensure, {std::string{name}});
}

caf::expected<db_query> make_create_key_query(std::string_view tenant_name,
                                              const std::vector<std::string>& scopes,
                                              std::string_view name, const key_material& key) {
  if (!valid_tenant_name(tenant_name)) return make_error(errc::validation, "tenant: invalid name");
  if (!valid_key_name(name))
    return make_error(errc::validation, "name: 1-100 characters, no control characters");
  auto joined = join_scopes(scopes);
  if (!joined) return joined.error();
  return query(stmt::key_create,
               {std::string{tenant_name}, std::string{name}, *joined, key.hash_hex, key.prefix});
}

db_query make_list_keys_query(const key_filter& filter) {
  auto limit = std::clamp(filter.limit, 1u, 100u);
  db_value tenant = filter.tenant_name ? db_value{*filter.tenant_name} : db_value{caf::none};
  return query(stmt::key_list, {tenant, std::to_string(limit), std::to_string(filter.offset)});
}

db_query make_revoke_key_query(std::string_view id) {
  return query(stmt::key_revoke, {uuid_param(id)});
}

db_query make_find_by_hash_query(const sha256_digest& digest) {
  return query(stmt::key_find_by_hash, {to_hex(digest)});
}

db_query make_touch_last_used_query(std::string_view id) {
  return query(stmt::key_touch, {uuid_param(id)});
}

caf::expected<db_query> make_revoked_among_query(const std::vector<std::string>& ids) {
  if (ids.size() > 1000) return make_error(errc::validation, "too many ids");
  std::string list;
  for (auto& id : ids) {
    if (!caa::is_uuid(id)) continue;
    if (!list.empty()) list += ',';
    list += id;
  }
  return query(stmt::key_revoked_among, {list.empty() ? db_value{caf::none} : db_value{list}});
}

std::vector<std::string> parse_id_list(const db_result& r) {
  std::vector<std::string> out;
  for (auto& row : r.rows)
    if (!row.empty() && row[0]) out.push_back(*row[0]);
  return out;
}

caf::expected<db_batch> make_seed_bootstrap_batch(const secret& plaintext) {
  if (plaintext.size() == 0) return make_error(errc::validation, "API_KEY: empty");
  auto key = key_material_of(plaintext);
  return db_batch{{query(stmt::bootstrap_upsert, {key.hash_hex, key.prefix}),
                   query(stmt::bootstrap_revoke_others, {key.hash_hex})}};
}

caf::expected<tenant> parse_tenant(const db_result& r) {
  if (r.rows.size() != 1 || r.rows[0].size() < 2 || !r.rows[0][0] || !r.rows[0][1])
    return make_error(errc::internal, "tenants: unexpected result shape");
  return tenant{*r.rows[0][0], *r.rows[0][1]};
}

caf::expected<key_record> parse_key_record(const db_result& r) {
  if (r.rows.size() != 1) return make_error(errc::internal, "api_keys: expected one row");
  return to_key_record(r.rows[0]);
}

caf::expected<std::optional<key_record>> parse_optional_key(const db_result& r) {
  if (r.rows.empty()) return std::optional<key_record>{};
  auto rec = parse_key_record(r);
  if (!rec) return rec.error();
  return std::optional<key_record>{std::move(*rec)};
}

caf::expected<std::vector<key_record>> parse_key_list(const db_result& r) {
  std::vector<key_record> out;
  out.reserve(r.rows.size());
  for (const auto& row : r.rows) {
    auto rec = to_key_record(row);
    if (!rec) return rec.error();
    out.emplace_back(std::move(*rec));
  }
  return out;
}

bool parse_found(const db_result& r) noexcept {
  return r.affected > 0;
}

caf::expected<key_record> parse_seed_result(const std::vector<db_result>& rs) {
  if (rs.empty()) return make_error(errc::internal, "bootstrap: empty batch result");
  return parse_key_record(rs.front());
}

}  // namespace caa::storage
