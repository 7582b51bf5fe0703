#include "transport/api/keys.hpp"

#include "transport/api/responses.hpp"
#include "transport/json/json.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace caa::api {

namespace {

using writer = rapidjson::Writer<rapidjson::StringBuffer>;

void write_key(writer& w, const storage::key_record& k) {
  w.Key("id");
  w.String(k.id);
  w.Key("tenant");
  w.String(k.tenant_name);
  w.Key("tenant_id");
  w.String(k.tenant_id);
  w.Key("name");
  w.String(k.name);
  w.Key("scopes");
  w.StartArray();
  for (auto& s : k.scopes) w.String(s);
  w.EndArray();
  w.Key("prefix");
  w.String(k.prefix);
  w.Key("created_at");
  w.String(k.created_at);
  w.Key("last_used_at");
  k.last_used_at ? w.String(*k.last_used_at) : w.Null();
  w.Key("revoked_at");
  k.revoked_at ? w.String(*k.revoked_at) : w.Null();
}

struct create_request {
  std::string tenant;
  std::vector<std::string> scopes;
  std::string name;
};

/// Decodes and validates the body of `POST /api/v1/keys`; fails with every bad field.
std::optional<create_request> decode_create(const http::request& req,
                                            const std::shared_ptr<http::responder>& res) {
  rapidjson::Document doc;
  std::string why;
  if (!json::parse_object(req.body, doc, why)) {
    res->fail(make_error(errc::bad_request, why));
    return std::nullopt;
  }
  json::field_errors errors;
  json::field_reader r{doc, errors};
  auto tenant = r.string("tenant", false, 1, 63);
  auto scopes = r.string_list("scopes", true, 2, 10);
  auto name = r.string("name", true, 1, 100);
  r.reject_unknown({"tenant", "scopes", "name"});
  create_request out;
  out.tenant = tenant.value_or(req.caller->tenant_name());
  if (tenant && !storage::valid_tenant_name(*tenant))
    errors.fail("tenant", "must match ^[a-z0-9][a-z0-9_-]{0,62}$");
  if (scopes) {
    for (auto& s : *scopes)
      if (s != "agent" && s != "admin")
        errors.fail("scopes", "entries must be \"agent\" or \"admin\"");
    bool admin = std::find(scopes->begin(), scopes->end(), "admin") != scopes->end();
    if (admin && out.tenant != "default")
      errors.fail("scopes", "the admin scope exists only in tenant \"default\"");
    if (scopes->empty()) errors.fail("scopes", "must not be empty");
  }
  if (!errors.ok()) {
    res->fail(caa::validation_error(errors.take()));
    return std::nullopt;
  }
  out.scopes = std::move(*scopes);
  out.name = std::move(*name);
  return out;
}

void create_key(const std::shared_ptr<storage::key_repository>& keys,
                const std::shared_ptr<http::request>& req,
                const std::shared_ptr<http::responder>& res) {
  auto body = decode_create(*req, res);
  if (!body) return;
  keys->create_key(
      body->tenant, body->scopes, body->name,
      [res](const storage::created_key& k) {
        rapidjson::StringBuffer buf;
        writer w{buf};
        w.StartObject();
        write_key(w, k.record);
        w.Key("key");  // shown once, never stored
        w.String(k.plaintext.reveal());
        w.EndObject();
        res->send(json_response(201, buf));
      },
      [res](caf::error e) { res->fail(std::move(e)); });
}

void list_keys(const std::shared_ptr<storage::key_repository>& keys,
               const std::shared_ptr<http::request>& req,
               const std::shared_ptr<http::responder>& res) {
  std::vector<caa::field_error> errors;
  auto page = query_int(*req, "page", 1, 1, 1'000'000, errors);
  auto page_size = query_int(*req, "page_size", 50, 1, 100, errors);
  auto tenant = req->query_param("tenant");
  if (tenant && !storage::valid_tenant_name(*tenant))
    errors.push_back({"tenant", "must match ^[a-z0-9][a-z0-9_-]{0,62}$"});
  if (!errors.empty()) {
    res->fail(caa::validation_error(std::move(errors)));
    return;
  }
  storage::key_filter filter;
  filter.tenant_name = tenant;
  filter.limit = static_cast<unsigned>(page_size);
  filter.offset = static_cast<unsigned>((page - 1) * page_size);
  keys->list_keys(
      filter,
      [res, page, page_size](const std::vector<storage::key_record>& list) {
        rapidjson::StringBuffer buf;
        writer w{buf};
        w.StartObject();
        w.Key("keys");
        w.StartArray();
        for (auto& k : list) {
          w.StartObject();
          write_key(w, k);
          w.EndObject();
        }
        w.EndArray();
        w.Key("page");
        w.Int64(page);
        w.Key("page_size");
        w.Int64(page_size);
        w.EndObject();
        res->send(json_response(200, buf));
      },
      [res](caf::error e) { res->fail(std::move(e)); });
}

void revoke_key(const std::shared_ptr<storage::key_repository>& keys,
                const std::shared_ptr<auth::key_authenticator>& auth,
                const std::shared_ptr<http::request>& req,
                const std::shared_ptr<http::responder>& res) {
  auto id = req->params.at("id");
  keys->revoke_key(
      id,
      [res, auth, id](bool found) {
        if (!found) {
          res->fail(make_error(errc::not_found, "no such key"));
          return;
        }
        auth->invalidate(id);  // this node refuses it at once; others within the cache TTL
        http::response out;
        out.status = 204;
        res->send(std::move(out));
      },
      [res](caf::error e) { res->fail(std::move(e)); });
}

}  // namespace

void add_key_routes(http::router& r, std::shared_ptr<storage::key_repository> keys,
                    std::shared_ptr<auth::key_authenticator> auth) {
  using http::route_class;
  using http::route_policy;
  r.add("POST", "/api/v1/keys", route_policy::requires_admin, route_class::general,
        [keys](auto req, auto res) { create_key(keys, std::move(req), std::move(res)); });
  r.add("GET", "/api/v1/keys", route_policy::requires_admin, route_class::general,
        [keys](auto req, auto res) { list_keys(keys, std::move(req), std::move(res)); });
  r.add(
      "DELETE", "/api/v1/keys/{id:uuid}", route_policy::requires_admin, route_class::general,
      [keys, auth](auto req, auto res) { revoke_key(keys, auth, std::move(req), std::move(res)); });
}

}  // namespace caa::api
