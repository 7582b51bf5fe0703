#pragma once

// Internal to the session actor: its state and the helpers its handlers call.

#include "actors/session.hpp"
#include "actors/session_cli_slot.hpp"
#include "actors/session_event_log.hpp"
#include "actors/session_lifecycle.hpp"
#include "actors/session_requests.hpp"
#include "actors/session_row_writer.hpp"
#include "actors/session_transcript.hpp"
#include "actors/session_turn.hpp"
#include "storage/postgres/session_queries.hpp"
#include "transport/claude/control.hpp"
#include "transport/claude/process.hpp"
#include "transport/json/event_mapper.hpp"

#include <caf/typed_response_promise.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace caa::detail {

/// Where a session is in its life (as stored).
using session_status = storage::session_status;

/// What the session actor is doing (in memory; at most one of these at a time).
enum class session_phase {
  idle,           ///< nothing runs: a turn or a rewind may start
  starting_turn,  ///< a turn waits for its process (admission, transcript, spawn)
  in_turn,        ///< a turn runs
  rewinding,      ///< a rewind runs (or waits for its process)
};

/// The whole state of one session actor: who it is, what it depends on, and its components.
struct session_state {
  static inline const char* name = "session";

  session_identity who;                          ///< from its row
  session_deps deps;                             ///< what it depends on
  session_owner_actor registry;                  ///< told when the actor ends
  session_status status = session_status::idle;  ///< as stored
  session_phase phase = session_phase::idle;     ///< what it is doing

  session_cli_slot cli;           ///< the CLI process and its admission slot
  session_turn turn;              ///< the turn, the work waiting for the process, the checkpoint
  session_requests requests;      ///< control requests open between the session and its CLI
  session_event_log events;       ///< events: numbered, persisted, kept, delivered
  session_row_writer rows;        ///< row writes, one at a time, in order
  session_transcript transcript;  ///< what of the transcript is stored
  session_lifecycle life;         ///< draining and retirement
  mapper_state mapper;            ///< turns CLI lines into API events
  bool async_events = false;      ///< the turn's events are sent before they are stored
  bool flush_armed = false;       ///< a `write_due` for early events is on its way
  /// While the lines of one read are handled, early (async) events are delivered once, after
  /// the last line; `delivery_held` says one waits.
  bool holding_delivery = false;
  bool delivery_held = false;
  /// Runs once no row write is in flight (the queue held): the delete of the session's row.
  std::function<void()> after_row_write;
  /// Runs once when no row write waits or is in flight any more (the spend check of a turn
  /// waits for the session's own last turn to be stored).
  std::function<void()> when_rows_quiet;
  /// Its row as read after its last write and event (the answer of a session read), if nothing
  /// was written or emitted since.
  std::optional<storage::db_result> row_read;
  /// Counts row writes and events: a row read started under another count is not kept.
  uint64_t row_changes = 0;

  /// Whether a turn or a rewind runs or waits.
  bool busy() const noexcept { return phase != session_phase::idle; }

  /// Whether nothing of the session lives outside PostgreSQL but its subscribers: no process
  /// (running or ending), no turn or waiting work, no event or row write pending, no open CLI
  /// request.
  bool quiet() const noexcept {
    return !busy() && cli.quiet() && turn.quiet() && events.quiet() && rows.quiet() &&
           requests.quiet();
  }
};

using session_self = session_actor::stateful_pointer<session_state>;

// -- session_io.cpp, transcript.cpp ----------------------------------------------------------

/// Starts the CLI for `spec` on a launch thread; `on_launched` takes it (or the failure) over.
void spawn_process(session_self self, const turn_spec& spec);
/// The launch of generation `gen` ended: its process becomes the session's (it gets its
/// `initialize`), and the waiting work goes on; a failed launch fails it. A launch the session
/// forgot meanwhile is killed.
void on_launched(session_self self, uint64_t gen);
/// The session's process could not start: the waiting work fails, the slot goes back.
void launch_failed(session_self self);
/// Makes a warm process (started by the pool for this session's id) the session's process.
void adopt_process(session_self self, const warm_process& warm);
/// Handles one stdout line of the current process.
void on_line(session_self self, std::string line);
/// Handles the lines of one read of process generation `gen` (those after a line that ended
/// that generation are dropped); early events are delivered once, after the last.
void on_lines(session_self self, uint64_t gen, std::vector<std::string>& lines);
/// The current process spoke or ended: admission no longer counts it as starting.
void start_over(session_self self);
/// Handles the end of process generation `gen`.
void on_exit(session_self self, uint64_t gen, int32_t code, const std::string& cap);
/// Ends the process gracefully (end_session, EOF, then signals).
void stop_process(session_self self);
/// Whether the next spawn must first load the stored transcript (counters, missing files).
bool needs_transcript(const session_state& st);
/// Loads the transcript of the session (or of the fork's parent) from PostgreSQL, writes the
/// files the CLI needs that are missing, then calls `then`.
void restore_transcript(session_self self, const std::function<void()>& then);

// -- session_control.cpp, session_hooks.cpp, session_checkpoints.cpp --------------------------

/// Answers a pending can_use_tool request of the CLI.
caf::result<bool> on_answer(session_self self, pending_answer a);
/// Applies or stores a permission-mode or model change (stored first, then live).
caf::result<std::string> on_control(session_self self, const live_control& c);
/// Rewinds the files to a checkpoint.
caf::result<std::string> on_rewind(session_self self, std::string checkpoint_id, bool dry_run,
                                   const turn_spec_ptr& spec);
/// A webhook's hook output (`wrapped`, the JSON the CLI gets) for CLI request `request_id` of
/// generation `gen`.
void on_hooked(session_self self, uint64_t gen, const std::string& request_id,
               const std::string& wrapped);
/// Handles a control request of the CLI (can_use_tool, hook_callback, others refused).
void on_cli_request(session_self self, const claude::cli_message& msg);
/// Handles a control_cancel_request or control_response of the CLI.
void on_cli_control_reply(session_self self, const claude::cli_message& msg);
/// PERMISSION_TIMEOUT of the pending request with `token` passed: deny it.
void on_permission_timeout(session_self self, uint64_t token);
/// Notes the files the edit tools of an assistant message touch (checkpointed turns).
void note_checkpoint_files(session_self self, const claude::cli_message& msg);
/// The turn ends: forget its pending requests; the checkpoint's files go into `batch`.
void end_turn_control(session_self self, storage::db_batch& batch);
/// The hooks of `spec` as webhooks: fills `requests.hooks`; returns the `initialize` hooks JSON
/// (empty when there are none).
std::string register_hooks(session_self self, const turn_spec& spec);
/// Sends a control request line to the CLI; `reply` gets its response.
void send_control(session_self self, std::string request_id, std::string line,
                  control_reply_fn reply);

// -- session_events.cpp (events and row writes) ----------------------------------------------

/// Assigns the next seq to an event, keeps it, and schedules its persistence.
void emit(session_self self, api_event ev);
/// Sends unwritten events to the writer (one batch in flight at a time).
void flush(session_self self);
/// A `write_due` came (the flush interval of early events passed, or a failed write's retry
/// is due): store what waits.
void on_flush_due(session_self self);
/// Stores the next high-water mark of early event ids when one is due.
void reserve_ahead(session_self self);
/// Stores the mark back down once a turn's early events are all stored (no async turn runs).
void release_mark(session_self self);
/// Delivers persisted events to subscribers while they have room (a full one waits for
/// `sink_ready`); drops gone ones and those whose next event left the window.
void deliver(session_self self);
/// Adds a subscriber after `after` and delivers what it misses from the window.
void add_subscriber(session_self self, event_sink_ptr sink, uint64_t after);
/// The queue of subscriber `id` has room again.
void on_sink_ready(session_self self, uint64_t id);
/// Subscriber `id` may have waited for room longer than the stall timeout: cut it if so.
void on_sink_stall(session_self self, uint64_t id);
/// Queues a row write of this session; writes go out one at a time, in order.
void run_db(session_self self, row_write w);
/// Sends the next queued row write (or, the queue held and none in flight, runs
/// `after_row_write`).
void write_rows(session_self self);
/// Sends one write of this session now, under the fence of its epoch; `done` gets the error
/// (none: stored). A fenced write ends the actor instead (`fenced`), without calling `done`.
void request_write(session_self self, row_write w,
                   const std::function<void(const caf::error&)>& done);

// -- session_lifecycle.cpp -------------------------------------------------------------------

/// A request arrived: the session is in use.
void touch(session_self self);
/// Arms the retire deadline when nothing of the session is left but its rows.
void arm_retirement(session_self self);
/// The retire deadline passed: ends the actor if still nothing is left and nothing came.
void on_retire_deadline(session_self self);

// -- session_lease.cpp -----------------------------------------------------------------------

/// Starts renewing the ownership lease (when the session holds one).
void start_lease(session_self self);
/// Renews the lease; a lease another node claimed meanwhile ends the actor (`fenced`).
void on_lease_due(session_self self);
/// Ends the lease so another node may claim the session at once (retirement, drain).
void release_lease(session_self self);
/// `w` with the fence of this session's epoch: it fails in SQL when another node took over.
row_write fenced_write(const session_state& st, row_write w);
/// Another node owns the session now: end the process and the subscriptions without writing
/// anything, and end the actor (the registry forgets it).
void fenced(session_self self, const caf::error& why);

// -- session_turn.cpp ------------------------------------------------------------------------

/// Starts a turn: it waits for the process, then writes the prompt and answers the `run`.
caf::result<turn_accepted> on_run(session_self self, turn_spec_ptr spec);
/// Asks the CLI to interrupt the running turn (once).
caf::result<bool> on_interrupt(session_self self);
/// A read of the session's row: from memory when nothing changed since the last one.
caf::result<storage::db_result> on_read_row(session_self self);
/// The turn deadline of turn `number` passed: interrupt it.
void on_turn_deadline(session_self self, uint64_t number);
/// The CLI did not end interrupted turn `number` in time: end the process (and the turn).
void on_stop_deadline(session_self self, uint64_t number);
/// The idle period `token` lasted the idle timeout: hibernate.
void on_idle_deadline(session_self self, uint64_t token);
/// Moves the waiting work on: start it, wait for a retiring process, spawn, or ask admission.
void proceed(session_self self);
/// Ends the current turn with `done{reason}` and makes the session idle.
void finish_turn(session_self self, std::string_view reason);

/// The `--max-budget-usd` of a process for `spec` that has spent `spent` so far (the CLI compares
/// the bound with its cost since it started): the request's `max_budget_usd`, bounded by what
/// the tenant may still spend under the hard cap of the current turn.
struct process_budget {
  std::optional<double> usd;  ///< none: unbounded
  bool is_cap = false;        ///< the tenant's cap is the bound
};
process_budget process_budget_for(const session_state& st, const turn_spec& spec, double spent);
/// The absolute tenant work directory of `spec`: its cwd without the relative part.
std::string work_root_of(const turn_spec& spec);

// -- session.cpp -----------------------------------------------------------------------------

/// Gives the admission slot back if the session holds one.
void release_slot(session_self self);
/// Kills every process of the session; its slot goes back once they are all reaped.
void kill_all_then_release(session_self self);
/// Persists `s` as the session's status.
void set_status(session_self self, session_status s);

}  // namespace caa::detail
