// The `prompt` frame: the turn flow of `POST /api/v1/query` over a WebSocket.
//   (rate limited with every frame: the key's query bucket) -> decode the turn fields -> find the
//   session (or create one) -> its spawn options (stored ones when the frame carries none) ->
//   turn_spec -> run -> on turn_accepted: ack {session_id}, then the session's events on this
//   connection.
// Every failure before the turn is accepted is one error frame; nothing has started then.

#include "transport/api/turn_builder.hpp"
#include "transport/api/ws_connection.hpp"

namespace caa::api {

namespace {

/// One prompt on its way to the session actor.
struct ws_turn {
  std::shared_ptr<ws_connection> conn;
  detail::session_api_ptr api;
  std::string tenant_id;
  decode_policy policy;
  decoded_turn turn;
  detail::error_fn fail;
};

using turn_ptr = std::shared_ptr<ws_turn>;

/// The turn_spec of `req`, or null after reporting the error.
turn_spec_ptr build_spec(const turn_ptr& t, const turn_request& req, std::string options_json) {
  auto& ctx = t->api->ctx;
  auto spec = make_turn_spec(req, std::move(options_json), *ctx.cfg, *ctx.workspace, t->tenant_id,
                             t->policy);
  if (!spec) {
    t->fail(std::move(spec.error()));
    return nullptr;
  }
  return std::move(*spec);
}

}  // namespace

void ws_connection::on_prompt(ws_frame f) {
  // The token was taken (the key's query bucket) before the frame got here.
  auto self = shared_from_this();
  detail::run_async(*self->api_->ctx.sys, [self, f = std::move(f)] { self->start_turn(f); });
}

void ws_connection::start_turn(const ws_frame& f) {
  auto decoded = decode_turn_body(f.turn_body, policy_, turn_route::query);
  if (!decoded) {
    send_error(decoded.error(), ws_frame_type::prompt, {});
    return;
  }
  auto t = std::make_shared<ws_turn>();
  t->conn = shared_from_this();
  t->api = api_;
  t->tenant_id = tenant_id_;
  t->policy = policy_;
  t->turn = std::move(*decoded);
  auto target = t->turn.req.session_id;
  t->fail = [conn = t->conn, sid = target.value_or("")](const caf::error& e) {
    conn->send_error(e, ws_frame_type::prompt, sid);
  };
  auto run = [t](const session_actor& actor, turn_spec_ptr spec) {
    detail::run_turn(
        *t->api, actor, std::move(spec),
        [t, actor](const turn_accepted& acc) { t->conn->on_accepted(actor, acc); }, t->fail);
  };
  if (!target) {
    auto spec = build_spec(t, t->turn.req, t->turn.options_json);
    if (!spec) return;
    detail::create_session(
        *api_, make_new_session(t->turn.req, *spec, tenant_id_), spec,
        [run, spec](const std::string&, const session_actor& actor) { run(actor, spec); }, t->fail);
    return;
  }
  detail::find_session(
      *api_, tenant_id_, *target,
      [t, run, target](const session_actor& actor) {
        auto go = [t, run, actor](const std::string* stored, std::string options_json) {
          auto req = t->turn.req;
          if (stored != nullptr && !t->turn.has_spawn_options) {
            auto merged = with_stored_options(*stored, t->turn.req, t->policy);
            if (!merged) return t->fail(std::move(merged.error()));
            req = std::move(*merged);
          }
          if (auto spec = build_spec(t, req, std::move(options_json))) run(actor, std::move(spec));
        };
        if (t->turn.has_spawn_options) return go(nullptr, t->turn.options_json);
        t->api->sessions.get(
            t->tenant_id, *target,
            [go](const storage::session_record& rec) { go(&rec.options_json, rec.options_json); },
            t->fail);
      },
      t->fail);
}

void ws_connection::on_accepted(session_actor actor, const turn_accepted& acc) {
  remember(acc.session_id);
  send_ack(ws_frame_type::prompt, acc.session_id);
  {
    std::lock_guard<std::mutex> guard{mtx_};
    auto it = subscriptions_.find(acc.session_id);
    if (it != subscriptions_.end() && it->second->open()) return;  // already attached: live
  }
  auto sink = new_sink(acc.session_id, acc.after_seq, ws_frame_type::prompt);
  if (!sink) return;
  detail::subscribe_or_replay(api_, tenant_id_, acc.session_id, std::move(sink), acc.after_seq,
                              std::move(actor));
}

}  // namespace caa::api
