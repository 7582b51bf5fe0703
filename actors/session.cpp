#include "actors/session_impl.hpp"

#include "config/errc.hpp"
#include "config/logging.hpp"
#include "config/uuid.hpp"
#include "storage/postgres/checkpoint_queries.hpp"
#include "storage/postgres/session_queries.hpp"
#include "transport/http/error_catalog.hpp"

#include <caf/all.hpp>

namespace caa::detail {

namespace {

using namespace std::chrono_literals;

}  // namespace

std::string work_root_of(const turn_spec& spec) {
  const auto& cwd = spec.options.cwd;
  const auto& rel = spec.cwd_relative;
  if (rel.empty() || rel == "." || cwd.size() <= rel.size() + 1) return cwd;
  if (cwd.compare(cwd.size() - rel.size(), rel.size(), rel) != 0) return cwd;
  return cwd.substr(0, cwd.size() - rel.size() - 1);
}

namespace {

/// Writes the prompt and answers the waiting `run`.
void start_turn(session_self self) {
  auto& st = self->state;
  auto spec = std::move(st.waiting_spec);
  auto rp = std::move(*st.turn_promise);
  st.turn_promise.reset();
  auto uuid = new_uuid();  // also the file-checkpoint id of this turn
  auto line = claude::user_message(spec->prompt, spec->images, uuid);
  if (auto err = st.proc->write_line(std::move(line))) {
    rp.deliver(make_error(errc::agent_error, "cannot write the prompt"));
    return;
  }
  st.in_turn = true;
  st.interrupt_requested = false;
  st.turn_saw_result = false;
  ++st.turn;
  st.mapper.cwd_relative = spec->cwd_relative;
  st.status = session_status::running;  // written by the turn-started batch below
  st.turn_cost_usd = 0;
  st.turn_usage_json = "{}";
  st.turn_model.reset();
  st.turn_uuid = uuid;
  st.turn_files.clear();
  st.turn_checkpointed = spec->options.enable_file_checkpointing;
  st.work_root = work_root_of(*spec);
  auto batch = storage::make_turn_started_batch(st.who.tenant_id, st.who.id, uuid);
  if (st.turn_checkpointed)
    batch.queries.push_back(storage::make_checkpoint_mark_query(st.who.tenant_id, st.who.id, uuid));
  run_db(self, std::move(batch));
  self->send(st.deps.admission, atom::busy_v, session_actor{self});
  self->delayed_send(self, st.deps.turn_timeout, atom::timeout_v, int32_t{turn_deadline},
                     uint64_t{st.turn});
  rp.deliver(turn_accepted{st.who.id, st.last_seq, st.turn});
}

/// Answers the waiting work with `e` and forgets it.
void fail_waiting(session_self self, caf::error e) {
  auto& st = self->state;
  auto w = std::move(*st.waiting);
  st.waiting.reset();
  st.waiting_spec.reset();
  w.fail(std::move(e));
}

/// Spawns (if needed) and starts the waiting work; answers it with an error on failure.
void launch(session_self self) {
  auto& st = self->state;
  if (!st.proc && needs_transcript(st)) {
    restore_transcript(self, [self] { launch(self); });
    return;
  }
  if (!st.proc && !spawn_process(self, *st.waiting_spec)) {
    fail_waiting(self, make_error(errc::agent_error, "the agent could not start"));
    if (st.holds_slot) {
      st.holds_slot = false;
      self->send(st.deps.admission, atom::release_v, session_actor{self});
    }
    return;
  }
  auto ready = std::move(st.waiting->ready);
  st.waiting.reset();
  ready();
}

}  // namespace

void proceed(session_self self) {
  auto& st = self->state;
  if (!st.waiting) return;
  if (st.proc) {
    auto ready = std::move(st.waiting->ready);
    st.waiting.reset();
    ready();
    return;
  }
  if (!st.retiring.empty()) return;  // a process still exits; `on_exit` calls proceed again
  if (st.holds_slot) {
    launch(self);
    return;
  }
  self->request(st.deps.admission, st.deps.admission_wait + 2s, atom::acquire_v,
                session_actor{self}, st.who.tenant_id)
      .then(
          [=](bool) {
            self->state.holds_slot = true;
            launch(self);
          },
          [=](caf::error& e) { fail_waiting(self, std::move(e)); });
}

namespace {

caf::result<turn_accepted> on_run(session_self self, turn_spec_ptr spec) {
  auto& st = self->state;
  if (st.draining) return make_error(errc::unavailable, "draining");
  if (st.in_turn || st.waiting || st.rewinding)
    return http::with_retry_after(make_error(errc::session_locked, "a turn is running"), 1s);
  auto rp = self->make_response_promise<turn_accepted>();
  st.waiting_spec = std::move(spec);
  st.turn_promise = rp;
  st.waiting = waiting_work{[self] { start_turn(self); },
                            [self](caf::error e) {
                              auto& s = self->state;
                              if (s.turn_promise) s.turn_promise->deliver(std::move(e));
                              s.turn_promise.reset();
                            }};
  if (st.proc && st.proc_options_json != st.waiting_spec->options_json) {
    // Other spawn-time options: this turn needs a new process (resumed, same context).
    st.proc->kill();
    st.proc.reset();
    ++st.gen;
  }
  proceed(self);
  return rp;
}
void on_timeout(session_self self, int32_t kind, uint64_t id) {
  auto& st = self->state;
  switch (kind) {
    case turn_deadline:
      if (st.in_turn && st.turn == id && st.proc) {
        log::warn("turn timeout: interrupting", {.component = "session", .session_id = st.who.id});
        st.interrupt_requested = true;
        (void)st.proc->write_line(claude::interrupt(st.request_ids.next()));
        self->delayed_send(self, 5s, atom::timeout_v, int32_t{stop_deadline}, uint64_t{st.turn});
      }
      break;
    case stop_deadline:
      // The CLI did not end the interrupted turn in time: end the process (and the turn).
      if (st.in_turn && st.turn == id && st.proc) st.proc->kill();
      break;
    case idle_deadline:
      if (!st.in_turn && st.idle_token == id && st.proc) {
        stop_process(self);
        set_status(self, session_status::hibernated);
      }
      break;
    case write_retry:
      flush(self);
      break;
    case permission_deadline:
      on_permission_timeout(self, id);
      break;
    case sink_ready:
      on_sink_ready(self, id);
      break;
    case retire_deadline:
      on_retire_deadline(self);
      break;
    case sink_stall:
      on_sink_stall(self, id);
      break;
    default:
      break;
  }
}

}  // namespace

void set_status(session_self self, session_status s) {
  auto& st = self->state;
  if (st.status == s) return;
  st.status = s;
  run_db(self, storage::make_update_status_query(st.who.tenant_id, st.who.id, s));
}

void finish_turn(session_self self, std::string_view reason) {
  auto& st = self->state;
  emit(self, done_event(reason));
  st.in_turn = false;
  auto status = reason == "completed"     ? storage::turn_status::completed
                : reason == "interrupted" ? storage::turn_status::interrupted
                                          : storage::turn_status::error;
  // One transaction: the turn row, the totals, and the status (idle, or hibernated when the
  // process is gone), so no status write can overtake another.
  auto batch = storage::make_turn_finished_batch(
      st.who.tenant_id, st.who.id, static_cast<int>(st.turn), status, st.turn_cost_usd,
      st.turn_usage_json, st.turn_model);
  end_turn_control(self, batch);
  st.status = st.proc ? session_status::idle : session_status::hibernated;
  if (!st.proc)
    batch.queries.push_back(
        storage::make_update_status_query(st.who.tenant_id, st.who.id, st.status));
  run_db(self, std::move(batch));
  if (st.proc) self->send(st.deps.admission, atom::idle_v, session_actor{self});
  self->delayed_send(self, st.deps.idle_timeout, atom::timeout_v, int32_t{idle_deadline},
                     ++st.idle_token);
}

}  // namespace caa::detail

namespace caa {

namespace {

using namespace detail;

session_actor::behavior_type session(session_self self, session_identity who, session_deps deps,
                                     caf::actor registry) {
  auto& st = self->state;
  st.who = std::move(who);
  st.deps = std::move(deps);
  st.registry = std::move(registry);
  st.last_seq = st.committed_seq = st.who.last_seq;
  st.turn = st.who.turns;
  st.mapper.session_id = st.who.id;
  st.status = st.who.cli_session_started ? session_status::hibernated : session_status::idle;
  if (st.who.warm) {
    adopt_process(self, *st.who.warm);
    st.who.warm.reset();
  }
  touch(self);
  arm_retirement(self);  // revived for a request that may never come (e.g. a failed find)
  // No exit functor: CAF 0.17 destroys the state before attached functors run. Destroying the
  // state destroys the process handles, and `~agent_process` kills (SIGKILL of bubblewrap: the
  // whole tree), so whatever ends the actor ends its processes.
  return {
      [=](atom::run, turn_spec_ptr spec) {
        touch(self);
        return on_run(self, std::move(spec));
      },
      [=](atom::subscribe, event_sink_ptr sink, uint64_t after) -> caf::result<uint64_t> {
        touch(self);
        auto& s = self->state;
        uint64_t first = window_start(s);
        if (after + 1 < first && after < s.committed_seq)
          return make_error(errc::conflict, "replay from storage first");
        // An id from the future means "from now on", never "skip what comes next".
        add_subscriber(self, std::move(sink), std::min(after, s.last_seq));
        return s.committed_seq;
      },
      [=](atom::interrupt) -> caf::result<bool> {
        auto& s = self->state;
        if (!s.in_turn || !s.proc) return make_error(errc::session_idle, "nothing runs");
        if (!s.interrupt_requested) {
          s.interrupt_requested = true;
          (void)s.proc->write_line(claude::interrupt(s.request_ids.next()));
          self->delayed_send(self, 5s, atom::timeout_v, int32_t{stop_deadline}, uint64_t{s.turn});
        }
        return true;
      },
      [=](atom::remove) -> caf::result<bool> {
        auto& s = self->state;
        if (s.proc) s.proc->kill();
        s.proc.reset();
        for (auto& [gen, p] : s.retiring) p->kill();
        s.retiring.clear();
        for (auto& sub : s.subscribers) sub.sink->close();
        s.subscribers.clear();
        if (s.holds_slot) self->send(s.deps.admission, atom::release_v, session_actor{self});
        s.holds_slot = false;
        auto rp = self->make_response_promise<bool>();
        self->request(s.deps.pg, s.deps.db_timeout,
                      storage::make_delete_session_query(s.who.tenant_id, s.who.id))
            .then(
                [=](storage::db_result&) mutable {
                  caf::anon_send(self->state.registry, atom::remove_v, self->state.who.id);
                  rp.deliver(true);
                  self->quit();
                },
                [=](caf::error& e) mutable {
                  // The rows stay; the session must stay usable (its process is already gone).
                  if (self->state.in_turn) finish_turn(self, "error");
                  rp.deliver(std::move(e));
                });
        return rp;
      },
      [=](atom::drain) { self->state.draining = true; },
      [=](atom::busy) {
        auto& s = self->state;
        return s.in_turn || s.waiting.has_value() || s.rewinding;
      },
      [=](atom::hibernate) {
        auto& s = self->state;
        if (s.in_turn || !s.proc) return;
        stop_process(self);
        set_status(self, session_status::hibernated);
        arm_retirement(self);
      },
      [=](atom::line, uint64_t gen, std::string& line) {
        if (gen == self->state.gen) on_line(self, std::move(line));
      },
      [=](atom::exited, uint64_t gen, int32_t code, std::string& cap) {
        on_exit(self, gen, code, cap);
        arm_retirement(self);
      },
      [=](atom::timeout, int32_t kind, uint64_t id) {
        on_timeout(self, kind, id);
        if (kind != retire_deadline) arm_retirement(self);
      },
      [=](atom::answer, pending_answer& a) {
        touch(self);
        return on_answer(self, std::move(a));
      },
      [=](atom::control, live_control& c) {
        touch(self);
        return on_control(self, std::move(c));
      },
      [=](atom::rewind, std::string& id, bool dry_run, turn_spec_ptr& spec) {
        touch(self);
        return on_rewind(self, std::move(id), dry_run, std::move(spec));
      },
      [=](atom::hooked, uint64_t gen, std::string& request_id, std::string& output) {
        on_hooked(self, gen, std::move(request_id), std::move(output));
      },
  };
}

}  // namespace

session_actor spawn_session(caf::actor_system& sys, session_identity who, session_deps deps,
                            caf::actor registry) {
  return sys.spawn(session, std::move(who), std::move(deps), std::move(registry));
}

}  // namespace caa
