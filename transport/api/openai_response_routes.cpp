// The OpenAI Responses API: `POST /v1/responses` (a turn, streamed, in the background or
// answered when done), `GET /v1/responses/{id}` (poll; `?stream=true&starting_after=N` resumes
// a stream) and `POST /v1/responses/{id}/cancel` (interrupts its turn; idempotent).
//
// A response id names its session and the last event before its turn, so a poll, a resumed
// stream and a cancel read the turn back from the session's event log through a fresh
// `response_builder`: nothing else is stored, and rendering being deterministic, a resumed
// stream continues exactly.

#include "transport/api/openai_flow.hpp"
#include "transport/api/openai_render.hpp"

#include "storage/bridge.hpp"

#include <string>
#include <vector>

namespace caa::api::detail {

namespace {

/// Events read per PostgreSQL page when a response is read back from the log.
constexpr unsigned read_page_events = 500;

// -- POST /v1/responses -------------------------------------------------------------------------

/// Frames of builder events, those after `skip_upto` (-1: all).
std::string response_frames(const std::vector<openai::response_builder::event>& events,
                            int64_t skip_upto) {
  std::string out;
  for (const auto& e : events) {
    if (static_cast<int64_t>(e.sequence_number) <= skip_upto) continue;
    out += "event: ";
    out += e.type;
    out += '\n';
    out += sse_data(e.json);
  }
  return out;
}

/// Streams response `builder` from the turn's first event, leaving out the events up to
/// `skip_upto`.
void stream_response(const session_api_ptr& api, const req_ptr& req, const res_ptr& res,
                     const std::shared_ptr<openai::response_builder>& builder, bool queued,
                     int64_t skip_upto, const std::string& session_id, uint64_t after_seq,
                     const session_actor& actor) {
  auto render = [builder, skip_upto](std::string_view name, std::string_view data,
                                     std::string& out) {
    std::vector<openai::response_builder::event> events;
    builder->feed(name, data, events);
    out += response_frames(events, skip_upto);
    return builder->done();
  };
  auto sink = open_stream(*api, req, res, render);
  if (!sink) return;
  catch_up_when_lagged(api, req->caller->tenant_id(), session_id, sink);
  std::vector<openai::response_builder::event> first;
  builder->start(queued, first);
  sink->push(response_frames(first, skip_upto));
  if (actor)
    subscribe_or_replay(api, req->caller->tenant_id(), session_id, std::move(sink), after_seq,
                        actor);
  else
    replay_and_subscribe(api, req->caller->tenant_id(), session_id, std::move(sink), after_seq, {});
}

/// Answers the response object once the turn is done.
event_sink_ptr collect_response(const res_ptr& res,
                                const std::shared_ptr<openai::response_builder>& builder) {
  auto feed = [builder](std::string_view name, std::string_view data, std::string&) {
    std::vector<openai::response_builder::event> ignored;
    builder->feed(name, data, ignored);
    return builder->done();
  };
  return std::make_shared<collecting_answer_sink>(
      res, feed, [builder](const res_ptr& r) { r->send(json_body(200, builder->object())); });
}

void answer_response(const session_api_ptr& api, const req_ptr& req, const res_ptr& res,
                     const openai::turn_plan& plan, const session_actor& actor,
                     const turn_accepted& acc) {
  openai::response_meta meta;
  meta.created_at = unix_now();
  meta.id = openai::response_id(acc.session_id, acc.after_seq, meta.created_at);
  meta.model = plan.model;
  meta.session_id = acc.session_id;
  meta.previous_response_id = plan.previous_response_id;
  meta.instructions = plan.system_prompt;
  meta.background = plan.background;
  auto builder = std::make_shared<openai::response_builder>(std::move(meta), plan.agent_events);
  if (plan.stream)
    return stream_response(api, req, res, builder, plan.background, -1, acc.session_id,
                           acc.after_seq, actor);
  if (plan.background) return res->send(json_body(200, builder->object(true)));
  subscribe_or_replay(api, req->caller->tenant_id(), acc.session_id, collect_response(res, builder),
                      acc.after_seq, actor);
}

void create_response(const session_api_ptr& api, const req_ptr& req, const res_ptr& res) {
  auto decoded = openai::decode_responses_request(req->body);
  if (auto* e = std::get_if<openai::request_error>(&decoded)) return send_error(res, *e);
  auto plan = std::make_shared<openai::turn_plan>(std::move(std::get<openai::turn_plan>(decoded)));
  std::optional<std::string> sid;
  if (plan->previous_response_id)
    sid = openai::parse_response_id(*plan->previous_response_id)->session_id;
  auto body = openai::api_turn_body(*plan, sid, true, {"openai"}, true);
  start_turn_request(api, req, res, std::move(body), turn_route::query, {},
                     [api, req, res, plan](const session_actor& actor, const turn_accepted& acc) {
                       answer_response(api, req, res, *plan, actor, acc);
                     });
}

// -- GET /v1/responses/{id}, POST /v1/responses/{id}/cancel -------------------------------------

std::optional<openai::response_ref> response_of(const req_ptr& req, const res_ptr& res) {
  auto ref = openai::parse_response_id(req->params.at("id"));
  if (!ref)
    send_error(res, {404, "No response found with id '" + req->params.at("id") + "'.",
                     "invalid_request_error", "response_not_found", "id"});
  return ref;
}

std::shared_ptr<openai::response_builder> builder_of(const openai::response_ref& ref,
                                                     const std::string& id) {
  openai::response_meta meta;
  meta.id = id;
  meta.created_at = ref.created;
  meta.session_id = ref.session_id;
  return std::make_shared<openai::response_builder>(std::move(meta), false);
}

/// Reads the response's turn from the event log as far as it is stored; `ok` gets the builder.
void read_response(const session_api_ptr& api, const std::string& tenant_id,
                   const openai::response_ref& ref,
                   const std::shared_ptr<openai::response_builder>& builder, uint64_t after,
                   const std::function<void(std::shared_ptr<openai::response_builder>)>& ok,
                   const res_ptr& res) {
  api->sessions.read_events(
      tenant_id, ref.session_id, after, read_page_events,
      [api, tenant_id, ref, builder, ok, res](const storage::event_page& page) {
        std::vector<openai::response_builder::event> ignored;
        for (const auto& e : page.events) {
          builder->feed(e.type, e.payload_json, ignored);
          if (builder->done()) break;
        }
        if (builder->done() || page.events.empty() || page.events.back().seq >= page.last_seq)
          return ok(builder);
        read_response(api, tenant_id, ref, builder, page.events.back().seq, ok, res);
      },
      fail_with(res));
}

void get_response(const session_api_ptr& api, const req_ptr& req, const res_ptr& res) {
  auto ref = response_of(req, res);
  if (!ref) return;
  auto id = req->params.at("id");
  auto tenant = req->caller->tenant_id();
  if (req->query_param("stream").value_or("false") == "true") {
    int64_t skip = -1;
    if (auto after = req->query_param("starting_after")) {
      try {
        skip = std::stoll(*after);
      } catch (const std::exception&) {
        return send_error(res, {400, "starting_after must be an integer", "invalid_request_error",
                                "invalid_value", "starting_after"});
      }
    }
    // The session must be the caller's before a stream opens (a 404 is an error answer).
    api->sessions.get(
        tenant, ref->session_id,
        [api, req, res, ref, id, skip](const storage::session_record&) {
          stream_response(api, req, res, builder_of(*ref, id), false, skip, ref->session_id,
                          ref->after_seq, {});
        },
        fail_with(res));
    return;
  }
  read_response(
      api, tenant, *ref, builder_of(*ref, id), ref->after_seq,
      [res](const std::shared_ptr<openai::response_builder>& b) {
        res->send(json_body(200, b->object()));
      },
      res);
}

void cancel_response(const session_api_ptr& api, const req_ptr& req, const res_ptr& res) {
  auto ref = response_of(req, res);
  if (!ref) return;
  auto id = req->params.at("id");
  auto tenant = req->caller->tenant_id();
  read_response(
      api, tenant, *ref, builder_of(*ref, id), ref->after_seq,
      [api, res, ref, id, tenant](const std::shared_ptr<openai::response_builder>& b) {
        if (b->done()) return res->send(json_body(200, b->object()));
        find_session(
            *api, tenant, ref->session_id,
            [api, res, ref, id, tenant](const session_actor& actor) {
              auto wait = [api, res, ref, id, tenant, actor](const caf::error&) {
                subscribe_or_replay(api, tenant, ref->session_id,
                                    collect_response(res, builder_of(*ref, id)), ref->after_seq,
                                    actor);
              };
              // An interrupt the session answers SESSION_IDLE (the turn ended meanwhile) is
              // fine: the log has its end.
              caa::async_request<bool>(
                  *api->ctx.sys, actor, api->ctx.request_timeout,
                  [wait](bool) { wait(caf::error{}); }, wait, atom::interrupt_v);
            },
            fail_with(res));
      },
      res);
}

}  // namespace

void add_openai_response_routes(http::router& r, const session_api_ptr& api) {
  using http::route_class;
  constexpr auto agent = http::route_policy::requires_agent;
  r.add("POST", "/v1/responses", agent, route_class::query, bind_api(api, create_response));
  r.add("GET", "/v1/responses/{id}", agent, route_class::general, bind_api(api, get_response));
  r.add("POST", "/v1/responses/{id}/cancel", agent, route_class::general,
        bind_api(api, cancel_response));
}

}  // namespace caa::api::detail
