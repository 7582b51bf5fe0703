// The session resource: `GET /api/v1/sessions` (paged, status filter), `GET` and `DELETE
// /api/v1/sessions/{id}`, `POST /api/v1/sessions/{id}/interrupt`, and `GET /api/v1/capabilities`.
// A read of a session live on this node is answered by its actor (its row as read after its last
// change, kept in memory); other reads go to PostgreSQL (tenant-scoped statements). Changes go to
// the session's actor, found through the registry with the caller's tenant.

#include "transport/api/responses.hpp"
#include "transport/api/session_flow.hpp"
#include "transport/api/session_json.hpp"

#include "storage/bridge.hpp"

#include <caf/send.hpp>

namespace caa::api::detail {

namespace {

using http::route_class;
using http::route_policy;
using req_ptr = std::shared_ptr<http::request>;
using res_ptr = std::shared_ptr<http::responder>;

/// The names of the stored statuses, for the error message of a bad filter.
std::string status_names() {
  std::string out;
  for (auto s : {storage::session_status::starting, storage::session_status::idle,
                 storage::session_status::running, storage::session_status::hibernated,
                 storage::session_status::interrupted, storage::session_status::error}) {
    out += out.empty() ? "" : ", ";
    out += storage::to_string(s);
  }
  return out;
}

void list_sessions(const session_api_ptr& api, const req_ptr& req, const res_ptr& res) {
  std::vector<caa::field_error> errors;
  auto page = query_int(*req, "page", 1, 1, 1'000'000, errors);
  auto page_size = query_int(*req, "page_size", 20, 1, 100, errors);
  storage::session_filter filter;
  if (auto status = req->query_param("status")) {
    filter.status = storage::session_status_from(*status);
    if (!filter.status) errors.push_back({"status", "must be one of " + status_names()});
  }
  if (!errors.empty()) {
    res->fail(caa::validation_error(std::move(errors)));
    return;
  }
  filter.limit = static_cast<unsigned>(page_size);
  filter.offset = static_cast<unsigned>((page - 1) * page_size);
  api->sessions.list(
      req->caller->tenant_id(), filter,
      [res, page, page_size](const storage::session_page& p) {
        res->send(json_body(200, session_list_json(p, page, page_size)));
      },
      fail_with(res));
}

/// The answer of a session read: its row as JSON, or the error of a missing one.
void answer_row(const res_ptr& res, const storage::db_result& r) {
  auto rec = storage::parse_session(r);
  if (rec)
    res->send(json_body(200, session_json(*rec)));
  else
    res->fail(std::move(rec.error()));
}

/// A session live on this node answers from its own state (its row as read after its last
/// change, kept in memory), any other from one prepared statement: one request to the registry,
/// which hands it to either. The registry never revives a session for a read. When the
/// message got lost on the way (the actor ended meanwhile: a CAF error, not one of ours),
/// PostgreSQL is read directly.
void get_session(const session_api_ptr& api, const req_ptr& req, const res_ptr& res) {
  auto tenant = req->caller->tenant_id();
  auto id = req->params.at("id");
  auto fail = fail_with(res);
  caa::async_request<storage::db_result>(
      *api->ctx.sys, api->ctx.registry, api->ctx.request_timeout,
      [res](const storage::db_result& r) { answer_row(res, r); },
      [api, res, tenant, id, fail](const caf::error& e) {
        if (e.category() == errc_category) {
          fail(e);
          return;
        }
        api->sessions.get(
            tenant, id,
            [res](const storage::session_record& s) { res->send(json_body(200, session_json(s))); },
            fail);
      },
      atom::find_v, tenant, id, false);
}

void delete_session(const session_api_ptr& api, const req_ptr& req, const res_ptr& res) {
  auto id = req->params.at("id");
  find_session(
      *api, req->caller->tenant_id(), id,
      [api, res, id](session_actor actor) {
        caa::async_request<bool>(
            *api->ctx.sys, std::move(actor), api->ctx.request_timeout,
            [api, res, id](bool) {
              caf::anon_send(api->ctx.registry, atom::remove_v, id);
              res->send(json_body(204, {}));
            },
            fail_with(res), atom::remove_v);
      },
      fail_with(res));
}

void interrupt_session(const session_api_ptr& api, const req_ptr& req, const res_ptr& res) {
  auto id = req->params.at("id");
  find_session(
      *api, req->caller->tenant_id(), id,
      [api, res, id](session_actor actor) {
        caa::async_request<bool>(
            *api->ctx.sys, std::move(actor), api->ctx.request_timeout,
            [res, id](bool) {
              res->send(json_body(200, R"({"status":"interrupted","session_id":")" + id + "\"}"));
            },
            fail_with(res), atom::interrupt_v);
      },
      fail_with(res));
}

}  // namespace

void add_session_resource_routes(http::router& r, const session_api_ptr& api) {
  constexpr auto agent = route_policy::requires_agent;
  constexpr auto general = route_class::general;
  r.add("GET", "/api/v1/sessions", agent, general, bind_api(api, list_sessions));
  r.add("GET", "/api/v1/sessions/{id:uuid}", agent, general, bind_api(api, get_session));
  r.add("DELETE", "/api/v1/sessions/{id:uuid}", agent, general, bind_api(api, delete_session));
  r.add("POST", "/api/v1/sessions/{id:uuid}/interrupt", agent, general,
        bind_api(api, interrupt_session));
  r.add("GET", "/api/v1/capabilities", agent, general,
        [api](const req_ptr& req, const res_ptr& res) {
          auto policy = make_decode_policy(*api->ctx.cfg, *req->caller);
          caa::async_request<std::string>(
              *api->ctx.sys, api->ctx.capabilities, api->ctx.run_timeout,
              [res, policy](const std::string& engine) {
                res->send(json_body(200, capabilities_json(policy, engine)));
              },
              fail_with(res), atom::find_v, req->caller->tenant_id(), req->caller->agent_slot());
        });
}

}  // namespace caa::api::detail
