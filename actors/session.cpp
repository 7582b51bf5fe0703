// The session actor: its behavior (one handler per message of `session_actor`, each calling a
// named helper of the component files) and the helpers more than one of them needs.

#include "actors/session_impl.hpp"

#include "actors/remote_sink.hpp"
#include "config/errc.hpp"
#include "storage/postgres/session_queries.hpp"

#include <caf/all.hpp>

#include <atomic>
#include <memory>
#include <optional>
#include <utility>

namespace caa::detail {

void release_slot(session_self self) {
  if (self->state.cli.give_up_slot())
    self->send(self->state.deps.admission, atom::release_v, session_actor{self});
}

void kill_all_then_release(session_self self) {
  auto& cli = self->state.cli;
  auto starting = std::exchange(cli.launching, std::nullopt);
  auto killed = cli.kill_all();
  if (!cli.give_up_slot()) {
    if (starting) starting->ticket.discard([] {});
    return;
  }
  // The slot goes back once the last of them is reaped, never while one still runs. This actor
  // ends meanwhile (and its end would give the slot back): the slot becomes an orphan's first,
  // and the processes give it back themselves.
  static std::atomic<uint64_t> next_key{1};  // a session may do this twice (a failed delete)
  auto key = next_key++;
  self->send(self->state.deps.admission, atom::orphan_v, session_actor{self}, key);
  auto left = std::make_shared<std::atomic<std::size_t>>(killed.size() + (starting ? 2 : 1));
  auto one_gone = [left, admission = self->state.deps.admission, key] {
    if (--*left == 0) caf::anon_send(admission, atom::release_v, atom::orphan_v, key);
  };
  for (auto& p : killed) p->when_reaped(one_gone);
  if (starting) starting->ticket.discard(one_gone);
  one_gone();
}

void set_status(session_self self, session_status s) {
  auto& st = self->state;
  if (st.status == s) return;
  st.status = s;
  run_db(self, storage::make_update_status_query(st.who.tenant_id, st.who.id, s));
}

namespace {

caf::result<uint64_t> on_subscribe(session_self self, event_sink_ptr sink, uint64_t after) {
  auto& ev = self->state.events;
  auto [hole_from, hole_to] = ev.hole();
  if (after >= hole_from && after < hole_to) {  // at `hole_to`: it got the gap already
    // The client saw events a former actor of this session sent and never stored.
    if (!sink->deliver(hole_to, "gap", gap_event_data(hole_from, hole_to)))
      return make_error(errc::conflict, "the subscriber refused the gap event");
    after = hole_to;
  }
  if (ev.behind_window(after) && after < ev.committed_seq())
    return make_error(errc::conflict, "replay from storage first");
  // An id from the future means "from now on", never "skip what comes next".
  add_subscriber(self, std::move(sink), std::min(after, ev.last_seq()));
  return ev.visible_seq();
}

void delete_row(session_self self, caf::typed_response_promise<bool> rp) {
  auto& st = self->state;
  self->request(st.deps.pg, st.deps.db_timeout,
                storage::make_delete_session_query(st.who.tenant_id, st.who.id))
      .then(
          [=](storage::db_result&) mutable {
            caf::anon_send(self->state.registry, atom::remove_v, self->state.who.id);
            rp.deliver(true);
            self->quit();
          },
          [=](caf::error& e) mutable {
            // The rows stay; the session must stay usable (its process is already gone).
            self->state.rows.resume();
            if (self->state.phase == session_phase::in_turn) finish_turn(self, "error");
            write_rows(self);  // the writes held meanwhile go out
            rp.deliver(std::move(e));
          });
}

caf::result<bool> on_remove(session_self self) {
  auto& st = self->state;
  kill_all_then_release(self);
  st.events.close_subscribers();
  auto rp = self->make_response_promise<bool>();
  // The delete waits for the row write in flight and holds the others (see `hold`).
  st.rows.hold();
  auto earlier = std::exchange(st.after_row_write, {});  // a delete asked for already
  st.after_row_write = [self, rp, earlier]() mutable {
    if (earlier) earlier();
    delete_row(self, std::move(rp));
  };
  write_rows(self);
  return rp;
}

void on_hibernate(session_self self) {
  auto& st = self->state;
  if (st.phase == session_phase::in_turn) return;
  if (st.cli.proc) {
    stop_process(self);
    set_status(self, session_status::hibernated);
    arm_retirement(self);
  }
  // A draining node hands its resting sessions off: any node may claim them at once.
  if (st.life.draining && !st.busy()) release_lease(self);
}

}  // namespace

}  // namespace caa::detail

namespace caa {

namespace {

using namespace detail;

/// Sets up the state of a new session actor from its row (and a warm process to adopt).
void init(session_self self, session_identity who, session_deps deps,
          session_owner_actor registry) {
  auto& st = self->state;
  st.who = std::move(who);
  st.deps = std::move(deps);
  st.registry = std::move(registry);
  st.events.start_after(st.who.last_seq, st.who.reserved_seq);
  st.turn.number = st.who.turns;
  st.mapper.session_id = st.who.id;
  st.status = st.who.cli_session_started ? session_status::hibernated : session_status::idle;
  if (st.who.warm) {
    adopt_process(self, *st.who.warm);
    st.who.warm.reset();
  }
}

/// The spec of a turn another node forwarded, built here (this node's workspace and settings).
caf::expected<turn_spec_ptr> rebuilt(session_self self, const portable_turn& turn) {
  const auto& deps = self->state.deps;
  if (!deps.rebuild_turn)
    return make_error(errc::unavailable, "this node does not take forwarded turns");
  if (turn.tenant_id != self->state.who.tenant_id)
    return make_error(errc::session_not_found, "session not found");
  return deps.rebuild_turn(turn);
}

session_actor::behavior_type session(session_self self, session_identity who, session_deps deps,
                                     session_owner_actor registry) {
  init(self, std::move(who), std::move(deps), std::move(registry));
  touch(self);
  start_lease(self);
  arm_retirement(self);  // revived for a request that may never come (e.g. a failed find)
  // No exit functor: CAF 0.17 destroys the state before attached functors run. Destroying the
  // state destroys the process handles, and `~agent_process` kills (SIGKILL of bubblewrap: the
  // whole tree), so whatever ends the actor ends its processes.
  return {
      [=](atom::run, turn_spec_ptr spec) {
        touch(self);
        return on_run(self, std::move(spec));
      },
      [=](atom::run, const portable_turn& turn) -> caf::result<turn_accepted> {
        touch(self);
        auto spec = rebuilt(self, turn);
        if (!spec) return std::move(spec.error());
        return on_run(self, std::move(*spec));
      },
      [=](atom::subscribe, event_sink_ptr sink, uint64_t after) {
        touch(self);
        return on_subscribe(self, std::move(sink), after);
      },
      [=](atom::subscribe, const caf::actor& relay, uint64_t after) {
        touch(self);
        auto sink = make_remote_sink(self->system(), caf::actor_cast<sink_relay_actor>(relay));
        return on_subscribe(self, std::move(sink), after);
      },
      [=](atom::interrupt) { return on_interrupt(self); },
      [=](atom::remove) { return on_remove(self); },
      [=](atom::drain) { self->state.life.draining = true; },
      [=](atom::busy) { return self->state.busy(); },
      [=](atom::find) { return on_read_row(self); },
      [=](atom::hibernate) { on_hibernate(self); },
      [=](atom::line, uint64_t gen, std::string& line) {
        if (gen == self->state.cli.gen) on_line(self, std::move(line));
      },
      [=](atom::line, uint64_t gen, std::vector<std::string>& lines) {
        on_lines(self, gen, lines);
      },
      // Every INTERNAL message but `retire_due` may leave the session quiet: each arms the
      // retirement after its work.
      [=](atom::exited, uint64_t gen, int32_t code, std::string& cap) {
        on_exit(self, gen, code, cap);
        arm_retirement(self);
      },
      [=](atom::launched, uint64_t gen) {
        on_launched(self, gen);
        arm_retirement(self);
      },
      [=](atom::turn_due, uint64_t number) {
        on_turn_deadline(self, number);
        arm_retirement(self);
      },
      [=](atom::stop_due, uint64_t number) {
        on_stop_deadline(self, number);
        arm_retirement(self);
      },
      [=](atom::idle_due, uint64_t token) {
        on_idle_deadline(self, token);
        arm_retirement(self);
      },
      [=](atom::write_due) {
        on_flush_due(self);
        arm_retirement(self);
      },
      [=](atom::answer_due, uint64_t token) {
        on_permission_timeout(self, token);
        arm_retirement(self);
      },
      [=](atom::sink_ready, uint64_t id) {
        on_sink_ready(self, id);
        arm_retirement(self);
      },
      [=](atom::sink_stall, uint64_t id) {
        on_sink_stall(self, id);
        arm_retirement(self);
      },
      [=](atom::retire_due) { on_retire_deadline(self); },
      [=](atom::lease_due) { on_lease_due(self); },
      [=](atom::answer, pending_answer& a) {
        touch(self);
        return on_answer(self, std::move(a));
      },
      [=](atom::control, const live_control& c) {
        touch(self);
        return on_control(self, c);
      },
      [=](atom::rewind, std::string& id, bool dry_run, const turn_spec_ptr& spec) {
        touch(self);
        return on_rewind(self, std::move(id), dry_run, spec);
      },
      [=](atom::rewind, std::string& id, bool dry_run,
          const portable_turn& turn) -> caf::result<std::string> {
        touch(self);
        auto spec = rebuilt(self, turn);
        if (!spec) return std::move(spec.error());
        return on_rewind(self, std::move(id), dry_run, *spec);
      },
      [=](atom::hooked, uint64_t gen, const std::string& request_id, const std::string& output) {
        on_hooked(self, gen, request_id, output);
      },
  };
}

}  // namespace

session_actor spawn_session(caf::actor_system& sys, session_identity who, session_deps deps,
                            session_owner_actor registry) {
  return sys.spawn(session, std::move(who), std::move(deps), std::move(registry));
}

}  // namespace caa
