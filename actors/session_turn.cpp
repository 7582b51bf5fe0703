// The turn of a session: a `run` waits for the session's process (admission, transcript,
// spawn), writes the prompt and runs until the CLI's result, an interrupt, a deadline or the
// process's end.

#include "actors/session_impl.hpp"

#include "config/errc.hpp"
#include "config/error_values.hpp"
#include "config/logging.hpp"
#include "config/metrics_catalog.hpp"
#include "config/uuid.hpp"
#include "storage/bridge.hpp"
#include "storage/postgres/checkpoint_queries.hpp"
#include "storage/postgres/session_queries.hpp"
#include "storage/postgres/usage_queries.hpp"

#include <caf/all.hpp>

#include <rapidjson/document.h>

#include <cmath>

namespace caa::detail {

std::string work_root_of(const turn_spec& spec) {
  const auto& cwd = spec.options.cwd;
  const auto& rel = spec.cwd_relative;
  if (rel.empty() || rel == "." || cwd.size() <= rel.size() + 1) return cwd;
  if (cwd.compare(cwd.size() - rel.size(), rel.size(), rel) != 0) return cwd;
  return cwd.substr(0, cwd.size() - rel.size() - 1);
}

namespace {

using namespace std::chrono_literals;

/// Writes the prompt and answers the waiting `run`.
void start_turn(session_self self) {
  auto& st = self->state;
  auto spec = std::move(st.turn.waiting_spec);
  auto rp = std::move(*st.turn.promise);
  st.turn.promise.reset();
  auto uuid = new_uuid();  // also the file-checkpoint id of this turn
  auto line = claude::user_message(spec->prompt, spec->images, uuid);
  if (auto err = st.cli.proc->write_line(std::move(line))) {
    st.phase = session_phase::idle;
    rp.deliver(make_error(errc::agent_error, "cannot write the prompt"));
    return;
  }
  st.phase = session_phase::in_turn;
  st.async_events = spec->async_events;
  if (st.async_events) {
    st.events.expect_early();
    reserve_ahead(self);  // stored while the CLI starts its answer
  }
  st.turn.begin(uuid, spec->options.enable_file_checkpointing, work_root_of(*spec));
  st.mapper.cwd_relative = spec->cwd_relative;
  st.status = session_status::running;  // written by the turn-started batch below
  auto batch = storage::make_turn_started_batch(st.who.tenant_id, st.who.id, uuid);
  if (st.turn.checkpointed)
    batch.queries.push_back(storage::make_checkpoint_mark_query(st.who.tenant_id, st.who.id, uuid));
  run_db(self, std::move(batch));
  self->send(st.deps.admission, atom::busy_v, session_actor{self});
  self->delayed_send(self, st.deps.turn_timeout, atom::turn_due_v, uint64_t{st.turn.number});
  rp.deliver(turn_accepted{st.who.id, st.events.last_seq(), st.turn.number});
}

/// Answers the waiting work with `e` and forgets it.
void fail_waiting(session_self self, caf::error e) {
  auto& st = self->state;
  auto w = st.turn.take_waiting();
  st.turn.waiting_spec.reset();
  w.fail(std::move(e));
}

/// Starts the waiting work, once the session's process runs (spawned off this thread when
/// needed: `on_launched` starts the work then).
void launch(session_self self) {
  auto& st = self->state;
  if (!st.cli.proc && needs_transcript(st)) {
    restore_transcript(self, [self] { launch(self); });
    return;
  }
  if (!st.cli.proc) {
    if (!st.cli.launching) spawn_process(self, *st.turn.waiting_spec);
    return;
  }
  st.turn.take_waiting().ready();
}

/// Asks the CLI to interrupt the running turn; kills it if it does not end in time.
void request_interrupt(session_self self) {
  auto& st = self->state;
  st.turn.interrupt_requested = true;
  (void)st.cli.proc->write_line(claude::interrupt(st.cli.request_ids.next()));
  self->delayed_send(self, 5s, atom::stop_due_v, uint64_t{st.turn.number});
}

/// Whether turn `number` runs on a live process.
bool running(const session_state& st, uint64_t number) {
  return st.phase == session_phase::in_turn && st.turn.number == number && st.cli.proc;
}

/// The token counts of a turn's usage object (rebuilt from valid counters by the result reader).
metrics::turn_tokens tokens_of(const std::string& usage_json) {
  metrics::turn_tokens out;
  rapidjson::Document d;
  d.Parse(usage_json.data(), usage_json.size());
  if (!d.IsObject()) return out;
  auto count = [&](const char* key) -> uint64_t {
    auto it = d.FindMember(key);
    if (it == d.MemberEnd() || !it->value.IsNumber() || it->value.GetDouble() < 0) return 0;
    return static_cast<uint64_t>(it->value.GetDouble());
  };
  out.input = count("input_tokens");
  out.output = count("output_tokens");
  out.cache_creation = count("cache_creation_input_tokens");
  out.cache_read = count("cache_read_input_tokens");
  return out;
}

/// Refuses the waiting turn before it started. A process the session already holds (a new
/// session takes a warm one when it is created) becomes idle: the admission may reclaim its slot,
/// and it ends after the idle timeout, as after a finished turn.
void refuse_turn(session_self self, caf::error e) {
  auto& st = self->state;
  fail_waiting(self, std::move(e));
  if (!st.cli.proc) return;
  self->send(st.deps.admission, atom::idle_v, session_actor{self});
  self->delayed_send(self, st.deps.idle_timeout, atom::idle_due_v, ++st.turn.idle_token);
}

/// Whether the current process's `--max-budget-usd` serves the waiting turn. Under a hard cap
/// it must equal what the process spent plus what the tenant may still spend, within 1 % of the
/// latter (it drifts when other sessions of the tenant spend); a process that reached its bound
/// fails every turn.
bool budget_fits(const session_state& st, const turn_spec& spec) {
  if (st.cli.proc_budget_hit) return false;
  auto want = process_budget_for(st, spec, st.mapper.process_cost_usd).usd;
  const auto& have = st.cli.proc_budget_usd;
  if (!want || !have) return want.has_value() == have.has_value();
  double slack = st.turn.hard_cap ? 0.01 * st.turn.hard_cap->remaining_usd() : 0;
  return std::abs(*want - *have) <= slack + 1e-12;
}

/// Answers the spend check of the waiting turn: BUDGET_EXCEEDED when the tenant is at or over a
/// cap, else the turn goes on.
void on_budget(session_self self,
               const caf::expected<std::optional<storage::budget_state>>& state) {
  auto& st = self->state;
  st.turn.budget_pending = false;
  if (!st.turn.waiting) return;  // answered meanwhile (e.g. the session was deleted)
  if (!state) {
    refuse_turn(self, make_error(errc::unavailable, "spend check failed"));
    return;
  }
  if (*state) {
    if (auto breach = storage::breach_of(**state)) {
      refuse_turn(self, budget_error(breach->cap, breach->resets_at));
      return;
    }
    if ((*state)->hard) st.turn.hard_cap = storage::nearest_cap_of(**state);
  }
  if (st.cli.proc && !budget_fits(st, *st.turn.waiting_spec)) st.cli.discard_current();
  proceed(self);
}

/// The spend check itself: one statement sums the tenant's finished turns in the current UTC day
/// and month against its caps.
void query_budget(session_self self) {
  auto& st = self->state;
  self->request(st.deps.pg, st.deps.db_timeout, storage::make_budget_check_query(st.who.tenant_id))
      .then(
          [=](storage::db_result& r) {
            cancel_answered_timeout(self);
            on_budget(self, storage::parse_budget(r));
          },
          [=](caf::error& e) {
            cancel_answered_timeout(self);
            on_budget(self, make_error(errc::unavailable, "spend check: " + to_string(e)));
          });
}

/// The spend check of a turn start, on the node that runs the turn, after this session's own
/// row writes (its last turn's end) are stored, so a turn right after `done` sees that cost.
void check_budget(session_self self) {
  auto& st = self->state;
  st.turn.budget_pending = true;
  if (st.rows.quiet())
    query_budget(self);
  else
    st.when_rows_quiet = [self] { query_budget(self); };
}

}  // namespace

void launch_failed(session_self self) {
  if (self->state.turn.waiting)
    fail_waiting(self, make_error(errc::agent_error, "the agent could not start"));
  release_slot(self);
}

process_budget process_budget_for(const session_state& st, const turn_spec& spec, double spent) {
  process_budget out{spec.options.max_budget_usd, false};
  if (!st.turn.hard_cap) return out;
  double cap = spent + st.turn.hard_cap->remaining_usd();
  if (!out.usd || cap < *out.usd) out = {cap, true};
  return out;
}

void proceed(session_self self) {
  auto& st = self->state;
  if (!st.turn.waiting || st.turn.budget_pending) return;
  if (st.cli.proc) {
    st.turn.take_waiting().ready();
    return;
  }
  if (!st.cli.retiring.empty()) return;  // a process still exits; `on_exit` calls proceed again
  if (st.cli.holds_slot) {
    launch(self);
    return;
  }
  self->request(st.deps.admission, st.deps.admission_wait + 2s, atom::acquire_v,
                session_actor{self}, st.who.tenant_id)
      .then(
          [=](bool) {
            cancel_answered_timeout(self);
            self->state.cli.holds_slot = true;
            launch(self);
          },
          [=](caf::error& e) {
            cancel_answered_timeout(self);
            fail_waiting(self, std::move(e));
          });
}

caf::result<turn_accepted> on_run(session_self self, turn_spec_ptr spec) {
  auto& st = self->state;
  if (st.life.draining) return make_error(errc::unavailable, "draining");
  if (st.busy())
    return caa::with_retry_after(make_error(errc::session_locked, "a turn is running"), 1s);
  auto rp = self->make_response_promise<turn_accepted>();
  st.phase = session_phase::starting_turn;
  st.turn.waiting_spec = std::move(spec);
  st.turn.promise = rp;
  st.turn.waiting = waiting_work{[self] { start_turn(self); },
                                 [self](caf::error e) {
                                   auto& s = self->state;
                                   s.phase = session_phase::idle;
                                   if (s.turn.promise) s.turn.promise->deliver(std::move(e));
                                   s.turn.promise.reset();
                                 }};
  st.turn.hard_cap.reset();  // read again by this turn's spend check
  if (st.cli.proc && st.cli.proc_options_json != st.turn.waiting_spec->options_json) {
    // Other spawn-time options: this turn needs a new process (resumed, same context).
    st.cli.discard_current();
  }
  check_budget(self);
  return rp;
}

caf::result<bool> on_interrupt(session_self self) {
  auto& st = self->state;
  if (st.phase != session_phase::in_turn || !st.cli.proc)
    return make_error(errc::session_idle, "nothing runs");
  if (!st.turn.interrupt_requested) request_interrupt(self);
  return true;
}

void on_turn_deadline(session_self self, uint64_t number) {
  if (!running(self->state, number)) return;
  log::warn("turn timeout: interrupting",
            {.component = "session", .session_id = self->state.who.id});
  request_interrupt(self);
}

void on_stop_deadline(session_self self, uint64_t number) {
  if (running(self->state, number)) self->state.cli.proc->kill();
}

void on_idle_deadline(session_self self, uint64_t token) {
  auto& st = self->state;
  if (st.phase == session_phase::in_turn || st.turn.idle_token != token || !st.cli.proc) return;
  stop_process(self);
  set_status(self, session_status::hibernated);
}

void finish_turn(session_self self, std::string_view reason) {
  auto& st = self->state;
  emit(self, done_event(reason));
  st.async_events = false;
  st.phase = session_phase::idle;
  auto status = reason == "completed"     ? storage::turn_status::completed
                : reason == "interrupted" ? storage::turn_status::interrupted
                                          : storage::turn_status::error;
  // One transaction: the turn row, the totals, and the status (idle, or hibernated when the
  // process is gone), so no status write can overtake another.
  auto batch = storage::make_turn_finished_batch(
      st.who.tenant_id, st.who.id, static_cast<int>(st.turn.number), status, st.turn.cost_usd,
      st.turn.usage_json, st.turn.model);
  end_turn_control(self, batch);
  metrics::tenant_turn(st.who.tenant_id, st.turn.cost_usd, tokens_of(st.turn.usage_json));
  st.status = st.cli.proc ? session_status::idle : session_status::hibernated;
  if (!st.cli.proc)
    batch.queries.push_back(
        storage::make_update_status_query(st.who.tenant_id, st.who.id, st.status));
  run_db(self, std::move(batch));
  if (st.cli.proc) self->send(st.deps.admission, atom::idle_v, session_actor{self});
  self->delayed_send(self, st.deps.idle_timeout, atom::idle_due_v, ++st.turn.idle_token);
}

}  // namespace caa::detail
