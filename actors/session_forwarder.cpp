// The local stand-in for a session served by another node: requests that can cross the network
// go to the owner's session actor, each with its own deadline; the rest are refused here.

#include "actors/session_forwarder.hpp"

#include "actors/remote_sink.hpp"
#include "config/errc.hpp"
#include "config/error_values.hpp"

#include <caf/actor_clock.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <functional>
#include <map>
#include <utility>

namespace caa {

namespace {

struct forwarder_state {
  static inline const char* name = "caa.session_forwarder";
  session_actor remote;                         ///< the session's actor on its owner node
  std::string owner_node;                       ///< that node's NODE_ID
  caf::timespan timeout{};                      ///< per forwarded request
  caf::timespan turn_timeout{};                 ///< per forwarded run or rewind
  uint64_t timer = 0;                           ///< token of the idle timer armed last
  uint64_t next_request = 0;                    ///< id of the last forwarded request
  caf::actor_clock::time_point last_request{};  ///< on the actor clock
  /// Requests in flight: how to fail each one when the remote actor goes down first.
  std::map<uint64_t, std::function<void(const caf::error&)>> pending;
};

using forwarder_ptr = session_actor::stateful_pointer<forwarder_state>;

/// A failure of the owner node as our callers see it: our own errors (session_idle,
/// validation, ...) pass unchanged; anything else (a broken link, a request timeout) means the
/// session cannot be reached now.
caf::error relayed(const forwarder_state& st, caf::error e) {
  if (e.category() == errc_category) return e;
  return make_error(errc::unavailable,
                    "session served by node " + st.owner_node + ": " + caf::to_string(e));
}

/// The answer to requests whose payloads are pointers into this process.
caf::error not_forwarded(const forwarder_state& st) {
  return make_error(errc::unavailable,
                    "session served by node " + st.owner_node + ": this request is not forwarded");
}

void arm_idle_timer(forwarder_ptr self, caf::timespan after) {
  self->delayed_send(self, after, atom::idle_due_v, ++self->state.timer);
}

/// A request came: the idle period starts again.
void touch(forwarder_ptr self) {
  self->state.last_request = self->clock().now();
}

/// The idle timer `token` fired: quit when nothing came for a whole idle period and nothing is
/// in flight, else wait for the rest of the period.
void on_idle_timer(forwarder_ptr self, uint64_t token) {
  auto& st = self->state;
  if (token != st.timer) return;
  auto now = self->clock().now();
  auto due = st.last_request + session_forwarder_idle;
  if (now < due) return arm_idle_timer(self, due - now);
  if (!st.pending.empty()) return arm_idle_timer(self, session_forwarder_idle);
  self->quit();
}

/// `remote` went down: everything in flight fails with unavailable, and the forwarder ends.
void on_remote_down(forwarder_ptr self) {
  auto pending = std::move(self->state.pending);
  self->state.pending.clear();
  auto err = make_error(errc::unavailable,
                        "session served by node " + self->state.owner_node + ": it is gone");
  for (auto& [id, fail] : pending) fail(err);
  self->quit();
}

/// Forwards `xs` to the remote session within `timeout`; its reply (of type `T`) or error goes to
/// our caller.
template <class T, class... Ts>
caf::result<T> forward_within(forwarder_ptr self, caf::timespan timeout, const Ts&... xs) {
  touch(self);
  auto rp = self->make_response_promise<T>();
  auto id = ++self->state.next_request;
  self->state.pending.emplace(id, [rp](const caf::error& e) mutable { rp.deliver(e); });
  // The promise is delivered once: by whichever of the reply, the error or the down message
  // first takes the request out of `pending`.
  self->request(self->state.remote, timeout, xs...)
      .then(
          [self, id, rp](T& x) mutable {
            if (self->state.pending.erase(id) > 0) rp.deliver(std::move(x));
          },
          [self, id, rp](caf::error& e) mutable {
            if (self->state.pending.erase(id) > 0) rp.deliver(relayed(self->state, std::move(e)));
          });
  return rp;
}

/// Forwards `xs` with the deadline of a short request.
template <class T, class... Ts>
caf::result<T> forward(forwarder_ptr self, const Ts&... xs) {
  return forward_within<T>(self, self->state.timeout, xs...);
}

/// Forwards `xs` with the deadline of a turn (the owner may wait for a process slot).
template <class T, class... Ts>
caf::result<T> forward_turn(forwarder_ptr self, const Ts&... xs) {
  return forward_within<T>(self, self->state.turn_timeout, xs...);
}

/// Subscribes local `sink` at the owner through a relay on this node (remote_sink.hpp): the
/// owner's events come over the link with flow control.
caf::result<uint64_t> subscribe_remote(forwarder_ptr self, const event_sink_ptr& sink,
                                       uint64_t after) {
  touch(self);
  if (!sink) return not_forwarded(self->state);
  auto relay = spawn_sink_relay(self->system(), sink);
  auto rp = self->make_response_promise<uint64_t>();
  auto id = ++self->state.next_request;
  // Refused or unanswered: the relay ends alone (the caller decides what becomes of the sink).
  auto drop = [relay] { caf::anon_send_exit(relay, caf::exit_reason::user_shutdown); };
  self->state.pending.emplace(id, [rp, drop](const caf::error& e) mutable {
    drop();
    rp.deliver(e);
  });
  self->request(self->state.remote, self->state.timeout, atom::subscribe_v,
                caf::actor_cast<caf::actor>(relay), after)
      .then(
          [self, id, rp](uint64_t last) mutable {
            if (self->state.pending.erase(id) > 0) rp.deliver(last);
          },
          [self, id, rp, drop](caf::error& e) mutable {
            if (self->state.pending.erase(id) == 0) return;
            drop();
            rp.deliver(relayed(self->state, std::move(e)));
          });
  return rp;
}

session_actor::behavior_type session_forwarder(forwarder_ptr self, const session_actor& remote,
                                               const std::string& owner_node, caf::timespan timeout,
                                               caf::timespan turn_timeout) {
  auto& st = self->state;
  st.remote = remote;
  st.owner_node = owner_node;
  st.timeout = timeout;
  st.turn_timeout = turn_timeout;
  self->monitor(remote);
  self->set_down_handler([self](const caf::down_msg& dm) {
    if (dm.source == self->state.remote.address()) on_remote_down(self);
  });
  touch(self);
  arm_idle_timer(self, session_forwarder_idle);
  return {
      // Forwarded: their payloads are plain values with a type ID.
      [self](atom::interrupt) { return forward<bool>(self, atom::interrupt_v); },
      [self](atom::answer, const pending_answer& x) {
        return forward<bool>(self, atom::answer_v, x);
      },
      [self](atom::control, const live_control& x) {
        return forward<std::string>(self, atom::control_v, x);
      },
      [self](atom::remove) { return forward<bool>(self, atom::remove_v); },
      [self](atom::busy) { return forward<bool>(self, atom::busy_v); },
      [self](atom::find) { return forward<storage::db_result>(self, atom::find_v); },
      // A turn and a rewind go in portable form: the owner builds their specs under its own
      // settings and workspace.
      [self](atom::run, const turn_spec_ptr& spec) -> caf::result<turn_accepted> {
        if (!spec) return not_forwarded(self->state);
        return forward_turn<turn_accepted>(self, atom::run_v, portable_of(*spec));
      },
      [self](atom::run, const portable_turn& turn) {
        return forward_turn<turn_accepted>(self, atom::run_v, turn);
      },
      [self](atom::subscribe, const event_sink_ptr& sink, uint64_t after) {
        return subscribe_remote(self, sink, after);
      },
      [self](atom::subscribe, const caf::actor&, uint64_t) -> caf::result<uint64_t> {
        touch(self);
        return not_forwarded(self->state);  // a relay subscribes at the owner, never here
      },
      [self](atom::rewind, const std::string& id, bool dry_run,
             const turn_spec_ptr& spec) -> caf::result<std::string> {
        if (!spec) return not_forwarded(self->state);
        return forward_turn<std::string>(self, atom::rewind_v, id, dry_run, portable_of(*spec));
      },
      [self](atom::rewind, const std::string& id, bool dry_run, const portable_turn& turn) {
        return forward_turn<std::string>(self, atom::rewind_v, id, dry_run, turn);
      },
      // Ignored: a forwarder has no process to end and runs no turns.
      [](atom::hibernate) {},
      [](atom::drain) {},
      // The session's idle timer is the forwarder's own; the other internal messages belong
      // to a session that runs here.
      [self](atom::idle_due, uint64_t token) { on_idle_timer(self, token); },
      [](atom::turn_due, uint64_t) {},
      [](atom::stop_due, uint64_t) {},
      [](atom::write_due) {},
      [](atom::answer_due, uint64_t) {},
      [](atom::sink_ready, uint64_t) {},
      [](atom::sink_stall, uint64_t) {},
      [](atom::retire_due) {},
      [](atom::lease_due) {},
      [](atom::hooked, uint64_t, const std::string&, const std::string&) {},
      [](atom::launched, uint64_t) {},
      [](atom::line, uint64_t, const std::string&) {},
      [](atom::line, uint64_t, const std::vector<std::string>&) {},
      [](atom::exited, uint64_t, int32_t, const std::string&) {},
  };
}

}  // namespace

session_actor spawn_session_forwarder(caf::actor_system& sys, session_actor remote,
                                      std::string owner_node, caf::timespan timeout,
                                      caf::timespan turn_timeout) {
  return sys.spawn(session_forwarder, std::move(remote), std::move(owner_node), timeout,
                   turn_timeout);
}

}  // namespace caa
