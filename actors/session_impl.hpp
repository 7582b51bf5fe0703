#pragma once

// Internal to the session actor: its state and the helpers its handlers call.

#include "actors/event_mapper.hpp"
#include "actors/session.hpp"
#include "storage/postgres/session_queries.hpp"
#include "transport/claude/control.hpp"
#include "transport/claude/process.hpp"

#include <caf/typed_response_promise.hpp>

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

namespace caa::detail {

/// Where a session is in its life (as stored).
using session_status = storage::session_status;

/// One event kept in memory for replay to new subscribers.
struct kept_event {
  uint64_t seq;
  std::string name;
  std::string data;
};

/// One subscriber and the last event it got.
struct subscriber {
  event_sink_ptr sink;
  uint64_t after;
  uint64_t id = 0;       ///< names it in the `sink_ready` timeout message
  bool waiting = false;  ///< its queue is full: a `when_writable` callback is registered
  caf::actor_clock::time_point waiting_since;  ///< when the current wait began
};

/// Kinds of the INTERNAL timeout message (atom::timeout, kind, id).
enum timeout_kind : int32_t {
  turn_deadline = 0,        ///< id: the turn
  idle_deadline = 1,        ///< id: the idle token
  stop_deadline = 2,        ///< id: the turn
  write_retry = 3,          ///< id: unused
  permission_deadline = 4,  ///< id: the pending request's token
  sink_ready = 5,           ///< id: the subscriber whose queue has room again
  retire_deadline = 6,      ///< id: unused
  sink_stall = 7,           ///< id: the subscriber that waits for room
};

/// Work waiting for the session's process (a turn, or a rewind of a hibernated session).
struct waiting_work {
  std::function<void()> ready;           ///< the process runs: start the work
  std::function<void(caf::error)> fail;  ///< no process could be had: answer the error
};

/// `can_use_tool` requests of the CLI one session keeps waiting at once; more are denied at once
/// (the CLI's output is the tenant's: a flood must not grow the session's memory).
inline constexpr std::size_t max_pending_requests = 16;
/// Webhook calls (`hook_callback`) of one session in flight at once; more fail as the hook's
/// failure (PreToolUse fails closed).
inline constexpr std::size_t max_hooks_in_flight = 8;

/// A `can_use_tool` request of the CLI waiting for the client's answer.
struct pending_request {
  bool question = false;               ///< AskUserQuestion (a `question` event)
  std::string tool_name;               ///< the tool asked for
  std::string input_json;              ///< the tool input as the CLI sent it (an object)
  std::vector<std::string> questions;  ///< the question texts, in order (questions only)
  uint64_t token = 0;                  ///< identifies its PERMISSION_TIMEOUT deadline
};

/// A webhook registered with the CLI as a hook callback (callback id "hook-<index>").
struct hook_target {
  std::string event;                                         ///< PreToolUse, PostToolUse, ...
  std::string url;                                           ///< checked by the outbound client
  std::vector<std::pair<std::string, std::string>> headers;  ///< secrets: never logged
  int timeout_s = 30;                                        ///< 1..300
};

/// Receives the response to a control request we sent the CLI: ok, then the payload object
/// (success) or the error text.
using control_reply_fn = std::function<void(bool, std::string)>;

/// The whole state of one session actor.
struct session_state {
  static inline const char* name = "session";

  session_identity who;
  session_deps deps;
  caf::actor registry;
  session_status status = session_status::idle;

  // The CLI process (at most one) and its generation: lines of older generations are ignored.
  std::shared_ptr<claude::agent_process> proc;
  uint64_t gen = 0;
  // Processes asked to end (hibernation) that have not exited yet, by generation; their slot is
  // given back (or reused) only when they are gone, so the budget is never exceeded.
  std::map<uint64_t, std::shared_ptr<claude::agent_process>> retiring;
  bool holds_slot = false;
  bool retire_armed = false;                   // a retire_deadline is pending
  caf::actor_clock::time_point last_activity;  // the last request (the actor's clock)
  bool starting = false;  // the process admission counts as starting has not spoken yet
  std::string proc_options_json;
  claude::request_id_generator request_ids;
  mapper_state mapper;

  // The turn.
  bool in_turn = false;
  bool interrupt_requested = false;
  bool turn_saw_result = false;
  double turn_cost_usd = 0;     // from this turn's result
  std::string turn_usage_json;  // from this turn's result
  std::optional<std::string> turn_model;
  uint32_t turn = 0;
  uint64_t idle_token = 0;
  turn_spec_ptr waiting_spec;  // the spec of the work waiting for its process
  std::optional<waiting_work> waiting;
  std::optional<caf::typed_response_promise<turn_accepted>> turn_promise;

  // Interactive control (session_control.cpp).
  std::map<std::string, pending_request> pending;  // by the CLI's request id
  uint64_t pending_tokens = 0;
  std::vector<hook_target> hooks;                              // of the current process
  std::set<std::pair<uint64_t, std::string>> hooks_in_flight;  // (gen, CLI request id)
  std::map<std::string, control_reply_fn> awaiting;            // our control requests, by id
  std::optional<std::string> stored_options;  // options_json last written by a control
  bool rewinding = false;                     // a rewind is under way

  // The file checkpoint of the running turn.
  bool turn_checkpointed = false;
  std::string turn_uuid;             // the prompt uuid (checkpoint id)
  std::string work_root;             // absolute tenant work dir, for relative paths
  std::set<std::string> turn_files;  // files its edit tools touched

  // Events: assigned, persisted (committed), delivered.
  uint64_t last_seq = 0;
  uint64_t committed_seq = 0;
  bool write_in_flight = false;
  std::vector<kept_event> unwritten;
  std::vector<kept_event> writing;  // the batch in flight (put back when it fails)
  std::deque<kept_event> window;    // the most recent events, for replay
  std::size_t window_bytes = 0;     // payload bytes in `window`
  std::vector<subscriber> subscribers;
  uint64_t next_subscriber_id = 0;

  // Transcript lines already stored, per subpath; loaded from PostgreSQL before the first
  // resumed spawn of this actor (which also restores missing transcript files).
  std::map<std::string, int64_t> transcript_lines;
  bool transcript_loaded = false;
  bool draining = false;

  // Row writes of this session, one in flight at a time, in order: two writes on two pool
  // connections could otherwise commit in either order (e.g. idle after hibernated).
  std::deque<std::variant<storage::db_query, storage::db_batch>> row_writes;
  bool row_write_in_flight = false;
};

using session_self = session_actor::stateful_pointer<session_state>;

/// Events kept in memory for replay and for subscribers that wait for room: at most this many,
/// and at most `replay_window_bytes` of payload (committed events only are dropped; the newest
/// event always stays). A subscriber whose next event left the window is `lagged`.
constexpr std::size_t replay_window = 4096;
constexpr std::size_t replay_window_bytes = std::size_t{8} << 20;

/// The oldest seq a subscriber can still be served from memory.
inline uint64_t window_start(const session_state& st) {
  return st.window.empty() ? st.committed_seq + 1 : st.window.front().seq;
}

// -- session_io.cpp --------------------------------------------------------------------------

/// Spawns the CLI for `spec` (synchronously, on this CAF thread); false with the reason logged.
bool spawn_process(session_self self, const turn_spec& spec);
/// Makes a warm process (started by the pool for this session's id) the session's process.
void adopt_process(session_self self, const warm_process& warm);
/// Handles one stdout line of the current process.
void on_line(session_self self, std::string line);
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
void restore_transcript(session_self self, std::function<void()> then);

// -- session_control.cpp ---------------------------------------------------------------------

/// Answers a pending can_use_tool request of the CLI.
caf::result<bool> on_answer(session_self self, pending_answer a);
/// Applies or stores a permission-mode or model change.
caf::result<std::string> on_control(session_self self, live_control c);
/// Rewinds the files to a checkpoint.
caf::result<std::string> on_rewind(session_self self, std::string checkpoint_id, bool dry_run,
                                   turn_spec_ptr spec);
/// A webhook's hook output for CLI request `request_id` of generation `gen`.
void on_hooked(session_self self, uint64_t gen, std::string request_id, std::string output);
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
/// The hooks of `spec` as webhooks: fills `state.hooks`; returns the `initialize` hooks JSON
/// (empty when there are none).
std::string register_hooks(session_self self, const turn_spec& spec);
/// The `initialize` hooks of `spec` (empty: none); fills `hooks` with the webhook targets.
std::string parse_hooks(const turn_spec& spec, std::vector<hook_target>& hooks);
/// Sends a control request line to the CLI; `reply` gets its response.
void send_control(session_self self, std::string request_id, std::string line,
                  control_reply_fn reply);

// -- session_events.cpp ----------------------------------------------------------------------

/// Assigns the next seq to an event, keeps it, and schedules its persistence.
void emit(session_self self, api_event ev);
/// Sends unwritten events to the writer (one batch in flight at a time).
void flush(session_self self);
/// Delivers persisted events to subscribers while they have room (a full one waits for
/// `sink_ready`); drops gone ones and those whose next event left the window.
void deliver(session_self self);
/// Adds a subscriber after `after` and delivers what it misses from the window.
void add_subscriber(session_self self, event_sink_ptr sink, uint64_t after);
/// The queue of subscriber `id` has room again.
void on_sink_ready(session_self self, uint64_t id);
/// Subscriber `id` may have waited for room longer than the stall timeout: cut it if so.
void on_sink_stall(session_self self, uint64_t id);

// -- session_retire.cpp ----------------------------------------------------------------------

/// A request arrived: the session is in use.
void touch(session_self self);
/// Arms the retire deadline when nothing of the session is left but its rows.
void arm_retirement(session_self self);
/// The retire deadline passed: ends the actor if still nothing is left and nothing came.
void on_retire_deadline(session_self self);

// -- session.cpp -----------------------------------------------------------------------------

/// Moves the waiting turn on: start it, wait for a retiring process, spawn, or ask admission.
void proceed(session_self self);
/// Ends the current turn with `done{reason}` and makes the session idle.
void finish_turn(session_self self, std::string_view reason);
/// Persists `s` as the session's status.
void set_status(session_self self, session_status s);
/// Queues a row write of this session; writes go out one at a time, in order.
void run_db(session_self self, std::variant<storage::db_query, storage::db_batch> w);
/// The absolute tenant work directory of `spec`: its cwd without the relative part.
std::string work_root_of(const turn_spec& spec);

}  // namespace caa::detail
