#include "storage/postgres/key_repository.hpp"

#include "config/errc.hpp"
#include "storage/postgres/repository_call.hpp"

#include <caf/scoped_actor.hpp>

#include <memory>

namespace caa::storage {

using detail::normalize;
using detail::run;

namespace {

/// Wraps an infallible parser.
template <class F>
auto always(F f) {
  return [f](const db_result& r) { return caf::expected<decltype(f(r))>{f(r)}; };
}

}  // namespace

key_repository::key_repository(caf::actor_system& sys, pg_actor pg, caf::timespan timeout)
    : sys_(sys), pg_(std::move(pg)), timeout_(timeout) {
  // nop
}

void key_repository::ensure_tenant(const std::string& name, on_value<tenant> ok,
                                   on_error fail) const {
  run<tenant, db_result>(sys_, pg_, timeout_, make_ensure_tenant_query(name), parse_tenant,
                         std::move(ok), std::move(fail));
}

void key_repository::create_key(const std::string& tenant_name,
                                const std::vector<std::string>& scopes, const std::string& name,
                                on_value<created_key> ok, on_error fail) const {
  auto key = std::make_shared<key_material>(generate_key_material());
  auto parse = [key](const db_result& r) -> caf::expected<created_key> {
    auto rec = parse_key_record(r);
    if (!rec) return rec.error();
    return created_key{std::move(*rec), key->plaintext};
  };
  run<created_key, db_result>(sys_, pg_, timeout_,
                              make_create_key_query(tenant_name, scopes, name, *key), parse,
                              std::move(ok), std::move(fail));
}

void key_repository::list_keys(const key_filter& filter, on_value<std::vector<key_record>> ok,
                               on_error fail) const {
  run<std::vector<key_record>, db_result>(sys_, pg_, timeout_,
                                          caf::expected<db_query>{make_list_keys_query(filter)},
                                          parse_key_list, std::move(ok), std::move(fail));
}

void key_repository::revoke_key(const std::string& id, on_value<bool> ok, on_error fail) const {
  run<bool, db_result>(sys_, pg_, timeout_, caf::expected<db_query>{make_revoke_key_query(id)},
                       always(parse_found), std::move(ok), std::move(fail));
}

void key_repository::find_by_hash(sha256_digest digest, on_value<std::optional<key_record>> ok,
                                  on_error fail) const {
  run<std::optional<key_record>, db_result>(
      sys_, pg_, timeout_, caf::expected<db_query>{make_find_by_hash_query(digest)},
      parse_optional_key, std::move(ok), std::move(fail));
}

void key_repository::revoked_among(const std::vector<std::string>& ids,
                                   on_value<std::vector<std::string>> ok, on_error fail) const {
  run<std::vector<std::string>, db_result>(sys_, pg_, timeout_, make_revoked_among_query(ids),
                                           always(parse_id_list), std::move(ok), std::move(fail));
}

void key_repository::touch_last_used(const std::string& id, on_value<bool> ok,
                                     on_error fail) const {
  run<bool, db_result>(sys_, pg_, timeout_, caf::expected<db_query>{make_touch_last_used_query(id)},
                       always(parse_found), std::move(ok), std::move(fail));
}

void key_repository::seed_bootstrap_key(const secret& plaintext, on_value<key_record> ok,
                                        on_error fail) const {
  run<key_record, std::vector<db_result>>(sys_, pg_, timeout_, make_seed_bootstrap_batch(plaintext),
                                          parse_seed_result, std::move(ok), std::move(fail));
}

caf::expected<key_record> seed_bootstrap_key_blocking(caf::actor_system& sys, const pg_actor& pg,
                                                      caf::timespan timeout,
                                                      const secret& plaintext) {
  auto batch = make_seed_bootstrap_batch(plaintext);
  if (!batch) return batch.error();
  caf::expected<key_record> out{make_error(errc::internal, "bootstrap: no reply")};
  caf::scoped_actor self{sys};
  self->request(pg, timeout, std::move(*batch))
      .receive([&](std::vector<db_result>& rs) { out = parse_seed_result(rs); },
               [&](caf::error& e) { out = normalize(std::move(e)); });
  return out;
}

}  // namespace caa::storage
