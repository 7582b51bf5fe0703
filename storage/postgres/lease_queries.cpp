#include "storage/postgres/lease_queries.hpp"

#include "config/errc.hpp"
#include "storage/postgres/pg_text.hpp"
#include "storage/postgres/statements.hpp"

namespace caa::storage {

namespace {

db_query query(std::string_view name, std::vector<db_value> params) {
  return db_query{std::string{name}, std::move(params)};
}

}  // namespace

db_batch make_claim_lease_batch(std::string_view tenant_id, std::string_view id,
                                std::string_view node, std::chrono::milliseconds ttl) {
  return db_batch{
      {query(stmt::lease_claim, {uuid_param(tenant_id), uuid_param(id), std::string{node},
                                 std::to_string(ttl.count())}),
       query(stmt::lease_takeover, {uuid_param(tenant_id), uuid_param(id), std::string{node}})}};
}

caf::expected<lease_claim> parse_lease_claim(const std::vector<db_result>& rs) {
  if (rs.size() != 2) return make_error(errc::internal, "lease: unexpected batch result");
  if (rs[0].rows.empty()) return make_error(errc::session_not_found);
  const auto& row = rs[0].rows[0];
  if (row.size() != 4) return make_error(errc::internal, "lease: unexpected row");
  lease_claim out;
  if (row[2]) {
    auto epoch = to_int64(row[2]);
    if (!epoch) return epoch.error();
    out.claimed = true;
    out.epoch = static_cast<uint64_t>(*epoch);
    if (!rs[1].rows.empty()) {
      const auto& t = rs[1].rows[0];
      auto last =
          t.size() == 2 ? to_int64(t[1]) : caf::expected<int64_t>{make_error(errc::internal)};
      if (!last) return make_error(errc::internal, "lease: unexpected takeover row");
      out.interrupted_turn = true;
      out.last_seq = static_cast<uint64_t>(*last);
    }
    return out;
  }
  if (row[0]) out.holder = *row[0];
  if (row[3]) {
    auto ms = to_int64(row[3]);
    if (!ms) return ms.error();
    out.remaining = std::chrono::milliseconds{*ms};
  }
  return out;
}

db_query make_renew_lease_query(std::string_view id, std::string_view node, uint64_t epoch,
                                std::chrono::milliseconds ttl) {
  return query(stmt::lease_renew, {uuid_param(id), std::string{node}, std::to_string(epoch),
                                   std::to_string(ttl.count())});
}

db_query make_release_lease_query(std::string_view id, std::string_view node, uint64_t epoch) {
  return query(stmt::lease_release, {uuid_param(id), std::string{node}, std::to_string(epoch)});
}

db_query make_fence_query(std::string_view id, uint64_t epoch) {
  return query(stmt::lease_fence, {uuid_param(id), std::to_string(epoch)});
}

}  // namespace caa::storage
