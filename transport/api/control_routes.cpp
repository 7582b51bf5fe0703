// Interactive control over HTTP (API.md): `POST /api/v1/sessions/{id}/answer` answers a pending
#include "config/uuid.hpp"
// permission request or question, `.../control` changes the permission mode or model,
// `GET .../checkpoints` lists file checkpoints, `.../rewind` restores files to one of them.

#include "transport/api/responses.hpp"
#include "transport/api/session_ops.hpp"
#include "transport/api/turn_builder.hpp"

#include "storage/bridge.hpp"
#include "storage/postgres/checkpoint_queries.hpp"
#include "transport/json/json.hpp"

#include <rapidjson/writer.h>

namespace caa::api::detail {

namespace {

using http::route_class;
using http::route_policy;
using req_ptr = std::shared_ptr<http::request>;
using res_ptr = std::shared_ptr<http::responder>;

/// Parses the body as one JSON object; answers 400/422 itself and returns false on failure.
bool parse_body(const req_ptr& req, const res_ptr& res, rapidjson::Document& doc) {
  std::string why;
  if (!json::parse_object(req->body, doc, why)) {
    res->fail(make_error(errc::bad_request, std::move(why)));
    return false;
  }
  return true;
}

void answer(const session_api_ptr& api, const req_ptr& req, const res_ptr& res) {
  rapidjson::Document doc;
  if (!parse_body(req, res, doc)) return;
  auto decoded = decode_answer(doc);
  if (!decoded) {
    res->fail(std::move(decoded.error()));
    return;
  }
  auto a = std::move(*decoded);
  auto id = req->params.at("id");
  auto body = std::string{R"({"status":"answered","session_id":")"} + id + "\"" +
              (a.request_id.empty() ? "" : ",\"request_id\":" + json::quote(a.request_id)) + "}";
  answer_session(
      api, req->caller->tenant_id(), id, std::move(a),
      [res, body] { res->send(json_body(200, body)); }, fail_with(res));
}

void control(const session_api_ptr& api, const req_ptr& req, const res_ptr& res) {
  rapidjson::Document doc;
  if (!parse_body(req, res, doc)) return;
  auto* type = json::member(doc, "type");
  std::string kind;
  const char* field = nullptr;
  if (type != nullptr && type->IsString() &&
      std::string_view{type->GetString()} == "permission_mode_change") {
    kind = "permission_mode";
    field = "permission_mode";
  } else if (type != nullptr && type->IsString() &&
             std::string_view{type->GetString()} == "model_change") {
    kind = "model";
    field = "model";
  } else {
    res->fail(caa::validation_error({{"type", "must be permission_mode_change or model_change"}}));
    return;
  }
  for (auto& m : doc.GetObject()) {
    std::string_view name{m.name.GetString(), m.name.GetStringLength()};
    if (name != "type" && name != field) {
      res->fail(caa::validation_error({{std::string{name}, "is not a field of this change"}}));
      return;
    }
  }
  auto policy = make_decode_policy(*api->ctx.cfg, *req->caller);
  auto decoded = decode_control(kind, json::member(doc, field), policy, field);
  if (!decoded) {
    res->fail(std::move(decoded.error()));
    return;
  }
  auto c = std::move(*decoded);
  auto id = req->params.at("id");
  auto value = c.value;
  control_session(
      api, req->caller->tenant_id(), id, std::move(c),
      [res, id, field, value](const std::string& how) {
        res->send(json_body(200, std::string{R"({"status":")"} + how + R"(","session_id":")" + id +
                                     "\",\"" + field + "\":" + json::quote(value) + "}"));
      },
      fail_with(res));
}

void checkpoints(const session_api_ptr& api, const req_ptr& req, const res_ptr& res) {
  auto tenant = req->caller->tenant_id();
  auto id = req->params.at("id");
  api->sessions.get(
      tenant, id,
      [api, res, tenant, id](const storage::session_record&) {
        caa::async_request<storage::db_result>(
            *api->ctx.sys, api->ctx.pg, api->ctx.db_timeout,
            [res, id](const storage::db_result& r) {
              auto list = storage::parse_checkpoints(r);
              if (!list) {
                res->fail(list.error());
                return;
              }
              rapidjson::StringBuffer buf;
              rapidjson::Writer<rapidjson::StringBuffer> w{buf};
              w.StartObject();
              w.Key("session_id");
              w.String(id.c_str());
              w.Key("checkpoints");
              w.StartArray();
              for (auto& c : *list) {
                w.StartObject();
                w.Key("id");
                w.String(c.id.c_str());
                w.Key("turn");
                w.Int(c.turn);
                w.Key("created_at");
                w.String(c.created_at.c_str());
                w.Key("files_modified");
                w.RawValue(c.files_json.c_str(), c.files_json.size(), rapidjson::kArrayType);
                w.EndObject();
              }
              w.EndArray();
              w.EndObject();
              res->send(json_response(200, buf));
            },
            fail_with(res), storage::make_checkpoint_list_query(tenant, id));
      },
      fail_with(res));
}

void rewind(const session_api_ptr& api, const req_ptr& req, const res_ptr& res) {
  rapidjson::Document doc;
  if (!parse_body(req, res, doc)) return;
  std::vector<caa::field_error> errors;
  std::string checkpoint;
  bool dry_run = false;
  for (auto& m : doc.GetObject()) {
    std::string_view name{m.name.GetString(), m.name.GetStringLength()};
    if (name == "checkpoint_id") {
      if (!m.value.IsString() || !caa::is_uuid({m.value.GetString(), m.value.GetStringLength()}))
        errors.push_back({"checkpoint_id", "must be a checkpoint id (a UUID)"});
      else
        checkpoint = m.value.GetString();
    } else if (name == "dry_run") {
      if (!m.value.IsBool())
        errors.push_back({"dry_run", "must be a boolean"});
      else
        dry_run = m.value.GetBool();
    } else {
      errors.push_back({std::string{name}, "is not a field of a rewind"});
    }
  }
  if (checkpoint.empty() && errors.empty()) errors.push_back({"checkpoint_id", "is required"});
  if (!errors.empty()) {
    res->fail(caa::validation_error(std::move(errors)));
    return;
  }
  std::transform(checkpoint.begin(), checkpoint.end(), checkpoint.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  auto tenant = req->caller->tenant_id();
  auto id = req->params.at("id");
  auto policy = make_decode_policy(*api->ctx.cfg, *req->caller);
  // The session's stored options spawn the process when it is hibernated (paths are checked on
  // disk: a CAF thread, never this I/O thread).
  api->sessions.get(
      tenant, id,
      [api, res, tenant, id, policy, checkpoint, dry_run](const storage::session_record& rec) {
        run_async(*api->ctx.sys, [=] {
          turn_request turn;
          turn.prompt = "(rewind)";
          auto merged = with_stored_options(rec.options_json, turn, policy);
          if (!merged) {
            res->fail(std::move(merged.error()));
            return;
          }
          auto spec = make_turn_spec(*merged, rec.options_json, *api->ctx.cfg, *api->ctx.workspace,
                                     tenant, policy);
          if (!spec) {
            res->fail(std::move(spec.error()));
            return;
          }
          auto ready = std::move(*spec);
          find_session(
              *api, tenant, id,
              [api, res, checkpoint, dry_run, ready](session_actor actor) {
                caa::async_request<std::string>(
                    *api->ctx.sys, std::move(actor), api->ctx.run_timeout,
                    [res](std::string body) { res->send(json_body(200, std::move(body))); },
                    fail_with(res), atom::rewind_v, checkpoint, dry_run, ready);
              },
              fail_with(res));
        });
      },
      fail_with(res));
}

}  // namespace

void add_control_routes(http::router& r, const session_api_ptr& api) {
  constexpr auto agent = route_policy::requires_agent;
  constexpr auto general = route_class::general;
  r.add("POST", "/api/v1/sessions/{id:uuid}/answer", agent, general, bind_api(api, answer));
  r.add("POST", "/api/v1/sessions/{id:uuid}/control", agent, general, bind_api(api, control));
  r.add("GET", "/api/v1/sessions/{id:uuid}/checkpoints", agent, general,
        bind_api(api, checkpoints));
  r.add("POST", "/api/v1/sessions/{id:uuid}/rewind", agent, general, bind_api(api, rewind));
}

}  // namespace caa::api::detail
