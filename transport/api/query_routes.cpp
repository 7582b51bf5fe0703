// The turn-starting routes: `POST /api/v1/query` (SSE), `POST /api/v1/query/single` (one JSON
// document), `POST /api/v1/sessions/{id}/resume` (SSE) and `POST /api/v1/sessions/{id}/fork`
// (SSE). One flow serves all four:
//   decode the body -> find the session (or read the fork's parent) -> the spawn options (the
//   stored ones when the body carries none) -> resolve paths into a turn_spec -> create the
//   session when new -> run -> on turn_accepted, open the stream and subscribe.
// Every error up to `run`'s answer is a normal error response: no stream byte is sent before
// the turn is accepted. A client that goes away afterwards does not stop the turn.

#include "transport/api/session_flow.hpp"
#include "transport/api/sse_sink.hpp"
#include "transport/api/turn_builder.hpp"

namespace caa::api::detail {

namespace {

/// How the turn is answered.
enum class answer_mode : uint8_t { stream, single };

/// One turn request on its way to the session actor.
struct turn_flow {
  session_api_ptr api;
  std::shared_ptr<http::request> req;
  std::shared_ptr<http::responder> res;
  turn_route route = turn_route::query;
  std::string body;     ///< the API turn body to decode
  std::string path_id;  ///< the `{id}` of the path, or empty
  accepted_fn accepted;
  std::string tenant_id;
  decode_policy policy;
  decoded_turn turn;
  std::optional<std::string> target;  ///< the continued session, or the fork's parent
};

using flow_ptr = std::shared_ptr<turn_flow>;

error_fn fail_with(const flow_ptr& f) {
  return [res = f->res](caf::error e) { res->fail(std::move(e)); };
}

/// Subscribes the answer's sink to the accepted turn.
void answer_accepted(const session_api_ptr& api, const std::shared_ptr<http::request>& req,
                     const std::shared_ptr<http::responder>& res, answer_mode mode,
                     const session_actor& actor, const turn_accepted& acc) {
  event_sink_ptr sink;
  if (mode == answer_mode::single) {
    sink = std::make_shared<collecting_sink>(res, acc.session_id);
  } else {
    auto stream = res->stream(200, "text/event-stream", sse_headers());
    if (!stream->open()) return;  // the client is gone; the turn runs on (it can re-attach)
    auto sse = std::make_shared<sse_event_sink>(std::move(stream), true);
    watch_stream(*api, req->caller->key_id(), sse);
    catch_up_when_lagged(api, req->caller->tenant_id(), acc.session_id, sse);
    sink = std::move(sse);
  }
  subscribe_or_replay(api, req->caller->tenant_id(), acc.session_id, std::move(sink), acc.after_seq,
                      actor);
}

void run(const flow_ptr& f, const session_actor& actor, turn_spec_ptr spec) {
  run_turn(
      *f->api, actor, std::move(spec),
      [f, actor](const turn_accepted& acc) {
        auto accepted = std::move(f->accepted);
        if (accepted) accepted(actor, acc);
      },
      fail_with(f));
}

/// Builds the turn_spec of `req`; answers the error itself and returns null on failure.
turn_spec_ptr build_spec(const flow_ptr& f, const turn_request& req, std::string options_json) {
  auto& ctx = f->api->ctx;
  auto spec = make_turn_spec(req, std::move(options_json), *ctx.cfg, *ctx.workspace, f->tenant_id,
                             f->policy);
  if (!spec) {
    f->res->fail(std::move(spec.error()));
    return nullptr;
  }
  return std::move(*spec);
}

/// The effective request: the body's, or the body's prompt with `stored` spawn options.
std::optional<turn_request> effective_request(const flow_ptr& f, const std::string* stored) {
  if (stored == nullptr || f->turn.has_spawn_options) return f->turn.req;
  auto merged = with_stored_options(*stored, f->turn.req, f->policy);
  if (!merged) {
    f->res->fail(std::move(merged.error()));
    return std::nullopt;
  }
  return std::move(*merged);
}

/// A new session: spec, create, run.
void start_new(const flow_ptr& f) {
  auto spec = build_spec(f, f->turn.req, f->turn.options_json);
  if (!spec) return;
  auto ns = make_new_session(f->turn.req, *spec, f->tenant_id);
  create_session(
      *f->api, std::move(ns), spec,
      [f, spec](const std::string&, const session_actor& actor) { run(f, actor, spec); },
      fail_with(f));
}

/// A turn of an existing session (query with session_id, resume).
void continue_session(const flow_ptr& f) {
  auto& api = *f->api;
  find_session(
      api, f->tenant_id, *f->target,
      [f](const session_actor& actor) {
        auto go = [f, actor](const std::string* stored, std::string options_json) {
          auto req = effective_request(f, stored);
          if (!req) return;
          if (auto spec = build_spec(f, *req, std::move(options_json)))
            run(f, actor, std::move(spec));
        };
        if (f->turn.has_spawn_options) {
          go(nullptr, f->turn.options_json);
          return;
        }
        f->api->sessions.get(
            f->tenant_id, *f->target,
            [go](const storage::session_record& rec) { go(&rec.options_json, rec.options_json); },
            fail_with(f));
      },
      fail_with(f));
}

/// A fork: the parent must be the caller's; the first turn runs in the new session.
void start_fork(const flow_ptr& f) {
  f->api->sessions.get(
      f->tenant_id, *f->target,
      [f](const storage::session_record& parent) {
        auto req = effective_request(f, &parent.options_json);
        if (!req) return;
        auto options = f->turn.has_spawn_options ? f->turn.options_json : parent.options_json;
        auto spec = build_spec(f, *req, std::move(options));
        if (!spec) return;
        auto ns = make_new_session(*req, *spec, f->tenant_id);
        ns.parent_session_id = parent.id;
        if (f->turn.at_message_id) ns.fork_at_message = *f->turn.at_message_id;
        create_session(
            *f->api, std::move(ns),
            [f, spec](const std::string&, const session_actor& actor) { run(f, actor, spec); },
            fail_with(f));
      },
      fail_with(f));
}

/// Runs on a CAF thread: decode, then the flow of the route.
void start(const flow_ptr& f) {
  const auto& path_id = f->path_id;
  auto decoded = decode_turn_body(f->body, f->policy, f->route, path_id);
  if (!decoded) {
    f->res->fail(std::move(decoded.error()));
    return;
  }
  f->turn = std::move(*decoded);
  if (f->route == turn_route::query)
    f->target = f->turn.req.session_id;
  else
    f->target = path_id;
  if (f->route == turn_route::fork)
    start_fork(f);
  else if (f->target)
    continue_session(f);
  else
    start_new(f);
}

http::handler turn_handler(const session_api_ptr& api, answer_mode mode, turn_route route) {
  return [api, mode, route](const std::shared_ptr<http::request>& req,
                            const std::shared_ptr<http::responder>& res) {
    std::string path_id;
    if (auto it = req->params.find("id"); it != req->params.end()) path_id = it->second;
    auto body = std::move(req->body);
    accepted_fn accepted = [api, req, res, mode](const session_actor& actor,
                                                 const turn_accepted& acc) {
      answer_accepted(api, req, res, mode, actor, acc);
    };
    start_turn_request(api, req, res, std::move(body), route, std::move(path_id),
                       std::move(accepted));
  };
}

}  // namespace

void start_turn_request(session_api_ptr api, std::shared_ptr<http::request> req,
                        std::shared_ptr<http::responder> res, std::string body, turn_route route,
                        std::string path_id, accepted_fn accepted) {
  auto f = std::make_shared<turn_flow>();
  f->route = route;
  f->tenant_id = req->caller->tenant_id();
  f->policy = make_decode_policy(*api->ctx.cfg, *req->caller);
  f->body = std::move(body);
  f->path_id = std::move(path_id);
  f->accepted = std::move(accepted);
  f->api = std::move(api);
  f->req = std::move(req);
  f->res = std::move(res);
  run_async(*f->api->ctx.sys, [f] { start(f); });
}

void add_query_routes(http::router& r, const session_api_ptr& api) {
  using http::route_class;
  using http::route_policy;
  auto add = [&](const char* path, answer_mode mode, turn_route route) {
    r.add("POST", path, route_policy::requires_agent, route_class::query,
          turn_handler(api, mode, route));
  };
  add("/api/v1/query", answer_mode::stream, turn_route::query);
  add("/api/v1/query/single", answer_mode::single, turn_route::query);
  add("/api/v1/sessions/{id:uuid}/resume", answer_mode::stream, turn_route::resume);
  add("/api/v1/sessions/{id:uuid}/fork", answer_mode::stream, turn_route::fork);
}

}  // namespace caa::api::detail
