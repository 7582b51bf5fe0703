// The OpenAI-compatible chat API: `GET /v1/models` (the models the engine offers) and
// `POST /v1/chat/completions` (a turn, as a chat completion, streamed or not). A completion is
// one turn of an agent session, run by the flow of `POST /api/v1/query`; README
// "OpenAI-compatible API" has the rules (which session a chat continues, what is refused).

#include "transport/api/openai_flow.hpp"
#include "transport/api/openai_render.hpp"
#include "transport/api/sse_sink.hpp"

#include "storage/bridge.hpp"
#include "transport/http/error_catalog.hpp"
#include "transport/http/openai_error.hpp"

#include "config/json_parse.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <set>

namespace caa::api::detail {

namespace {

// -- GET /v1/models -----------------------------------------------------------------------------

/// The engine's model list as OpenAI's: each alias and resolved id the turn decoder accepts,
/// once, and "default".
std::string models_json(const std::string& engine_json) {
  rapidjson::Document engine;
  json::parse_untrusted_object(engine_json, engine);
  std::vector<std::string> ids{"default"};
  std::set<std::string> seen{"default"};
  auto add = [&](const rapidjson::Value& m, const char* key) {
    if (!m.IsObject() || !m.HasMember(key) || !m[key].IsString()) return;
    std::string id{m[key].GetString(), m[key].GetStringLength()};
    if (!openai::check_model(id) && seen.insert(id).second) ids.push_back(std::move(id));
  };
  if (engine.IsObject() && engine.HasMember("models") && engine["models"].IsArray())
    for (const auto& m : engine["models"].GetArray()) {
      add(m, "value");
      add(m, "resolvedModel");
    }
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w{buf};
  w.StartObject();
  w.Key("object");
  w.String("list");
  w.Key("data");
  w.StartArray();
  for (const auto& id : ids) {
    w.StartObject();
    w.Key("id");
    w.String(id.data(), static_cast<rapidjson::SizeType>(id.size()));
    w.Key("object");
    w.String("model");
    w.Key("created");
    w.Int64(0);
    w.Key("owned_by");
    w.String("anthropic");
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return {buf.GetString(), buf.GetSize()};
}

void list_models(const session_api_ptr& api, const req_ptr& req, const res_ptr& res) {
  caa::async_request<std::string>(
      *api->ctx.sys, api->ctx.capabilities, api->ctx.run_timeout,
      [res](const std::string& engine) { res->send(json_body(200, models_json(engine))); },
      fail_with(res), atom::find_v, req->caller->tenant_id(), req->caller->agent_slot());
}

// -- POST /v1/chat/completions ------------------------------------------------------------------

/// The side-channel events a non-streamed answer keeps (their JSON bytes); later ones are
/// dropped (a streamed answer keeps none).
constexpr std::size_t max_kept_agent_event_bytes = std::size_t{16} << 20;

struct chat_state {
  openai::turn_reader reader;
  openai::chat_meta meta;
  bool include_usage = false;
  bool streaming = false;
  std::vector<std::string> agent_events;  ///< kept for a non-streamed answer
  std::size_t agent_event_bytes = 0;
  explicit chat_state(bool agent_events) : reader(agent_events) {}

  void keep(std::string event) {
    if (streaming || agent_event_bytes + event.size() > max_kept_agent_event_bytes) return;
    agent_event_bytes += event.size();
    agent_events.push_back(std::move(event));
  }
};

void answer_chat(const session_api_ptr& api, const req_ptr& req, const res_ptr& res,
                 const openai::turn_plan& plan, const session_actor& actor,
                 const turn_accepted& acc) {
  auto st = std::make_shared<chat_state>(plan.agent_events);
  st->include_usage = plan.include_usage;
  st->streaming = plan.stream;
  st->meta = {"chatcmpl-" + hex_of(acc.session_id) + "-" + std::to_string(acc.after_seq),
              unix_now(), plan.model, acc.session_id};
  auto feed = [st](std::string_view name, std::string_view data, std::string& out) {
    std::vector<openai::turn_reader::piece> pieces;
    st->reader.feed(name, data, pieces);
    for (auto& p : pieces) {
      if (p.kind == openai::turn_reader::piece::text) {
        out += sse_data(openai::chat_text_chunk(st->meta, p.body));
        continue;
      }
      out += sse_data(openai::chat_agent_chunk(st->meta, p.body));
      st->keep(std::move(p.body));
    }
    if (!st->reader.done()) return false;
    if (st->reader.done_reason() == "error" && st->reader.text().empty()) {
      auto x = errc_of_code(st->reader.error_code());
      out += sse_data(http::to_openai_error(http::error_response(make_error(x), {})).body);
    } else {
      out += sse_data(openai::chat_finish_chunk(st->meta, st->reader));
      if (st->include_usage) out += sse_data(openai::chat_usage_chunk(st->meta, st->reader));
    }
    out += "data: [DONE]\n\n";
    return true;
  };
  event_sink_ptr sink;
  if (plan.stream) {
    auto s = open_stream(*api, req, res, feed);
    if (!s) return;
    catch_up_when_lagged(api, req->caller->tenant_id(), acc.session_id, s);
    s->push(sse_data(openai::chat_role_chunk(st->meta)));
    sink = std::move(s);
  } else {
    sink = std::make_shared<collecting_answer_sink>(res, feed, [st](const res_ptr& r) {
      if (st->reader.done_reason() == "error" && st->reader.text().empty()) {
        r->fail(make_error(errc_of_code(st->reader.error_code())));
        return;
      }
      r->send(json_body(200, openai::chat_completion(st->meta, st->reader, st->agent_events)));
    });
  }
  subscribe_or_replay(api, req->caller->tenant_id(), acc.session_id, std::move(sink), acc.after_seq,
                      actor);
}

void run_chat(const session_api_ptr& api, const req_ptr& req, const res_ptr& res,
              const std::shared_ptr<openai::turn_plan>& plan,
              const std::optional<std::string>& session_id) {
  std::vector<std::string> tags{"openai"};
  if (plan->user) tags.push_back(openai::user_tag(*plan->user));
  auto body = openai::api_turn_body(*plan, session_id, false, tags, true);
  start_turn_request(api, req, res, std::move(body), turn_route::query, {},
                     [api, req, res, plan](const session_actor& actor, const turn_accepted& acc) {
                       answer_chat(api, req, res, *plan, actor, acc);
                     });
}

void chat_completions(const session_api_ptr& api, const req_ptr& req, const res_ptr& res) {
  auto decoded = openai::decode_chat_request(req->body);
  if (auto* e = std::get_if<openai::request_error>(&decoded)) return send_error(res, *e);
  auto plan = std::make_shared<openai::turn_plan>(std::move(std::get<openai::turn_plan>(decoded)));
  if (plan->session_id || !plan->user) return run_chat(api, req, res, plan, plan->session_id);
  // A `user` continues its newest session when the conversation continues it: the request
  // carries as many earlier user messages as the session has had turns. The row of a turn is
  // written right after its `done`, so a client that asks again at once may find the last turn
  // still counted as running: one turn fewer and status running is the same conversation (were
  // that turn really still running, the new turn is refused with SESSION_LOCKED).
  storage::session_filter filter;
  filter.tag = openai::user_tag(*plan->user);
  filter.limit = 1;
  api->sessions.list(
      req->caller->tenant_id(), filter,
      [api, req, res, plan](const storage::session_page& page) {
        std::optional<std::string> sid;
        auto earlier = static_cast<int64_t>(openai::earlier_user_messages(*plan));
        if (!page.sessions.empty() && earlier > 0) {
          const auto& last = page.sessions.front();
          bool ending =
              last.status == storage::session_status::running && last.total_turns + 1 == earlier;
          if (last.total_turns == earlier || ending) sid = last.id;
        }
        run_chat(api, req, res, plan, sid);
      },
      fail_with(res));
}

}  // namespace

void add_openai_chat_routes(http::router& r, const session_api_ptr& api) {
  using http::route_class;
  constexpr auto agent = http::route_policy::requires_agent;
  r.add("GET", "/v1/models", agent, route_class::general, bind_api(api, list_models));
  r.add("POST", "/v1/chat/completions", agent, route_class::query, bind_api(api, chat_completions));
}

}  // namespace caa::api::detail
