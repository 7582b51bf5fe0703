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
};

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
  std::string proc_options_json;
  claude::request_id_generator request_ids;
  mapper_state mapper;

  // The turn.
  bool in_turn = false;
  bool interrupt_requested = false;
  bool turn_saw_result = false;
  double turn_cost_usd = 0;       // from this turn's result
  std::string turn_usage_json;    // from this turn's result
  std::optional<std::string> turn_model;
  uint32_t turn = 0;
  uint64_t idle_token = 0;
  turn_spec_ptr waiting_spec;  // a turn waiting for its process slot
  std::optional<caf::typed_response_promise<turn_accepted>> waiting_promise;

  // Events: assigned, persisted (committed), delivered.
  uint64_t last_seq = 0;
  uint64_t committed_seq = 0;
  bool write_in_flight = false;
  std::vector<kept_event> unwritten;
  std::deque<kept_event> window;  // the most recent events, for replay
  std::vector<subscriber> subscribers;

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

/// Events kept in memory for replay.
constexpr std::size_t replay_window = 4096;

// -- session_io.cpp --------------------------------------------------------------------------

/// Spawns the CLI for `spec` (synchronously, on this CAF thread); false with the reason logged.
bool spawn_process(session_self self, const turn_spec& spec);
/// Handles one stdout line of the current process.
void on_line(session_self self, std::string line);
/// Handles the end of process generation `gen`.
void on_exit(session_self self, uint64_t gen, int32_t code);
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
caf::result<std::string> on_rewind(session_self self, std::string checkpoint_id, bool dry_run);
/// A webhook's hook output for CLI request `request_id` of generation `gen`.
void on_hooked(session_self self, uint64_t gen, std::string request_id, std::string output);
/// Handles a control request of the CLI (can_use_tool, hook_callback, others refused).
void on_cli_request(session_self self, const claude::cli_message& msg);
/// Handles a control_cancel_request or control_response of the CLI.
void on_cli_control_reply(session_self self, const claude::cli_message& msg);

// -- session_events.cpp ----------------------------------------------------------------------

/// Assigns the next seq to an event, keeps it, and schedules its persistence.
void emit(session_self self, api_event ev);
/// Sends unwritten events to the writer (one batch in flight at a time).
void flush(session_self self);
/// Delivers persisted events to subscribers; drops slow or gone ones.
void deliver(session_self self);

// -- session.cpp -----------------------------------------------------------------------------

/// Moves the waiting turn on: start it, wait for a retiring process, spawn, or ask admission.
void proceed(session_self self);
/// Ends the current turn with `done{reason}` and makes the session idle.
void finish_turn(session_self self, std::string_view reason);
/// Persists `s` as the session's status.
void set_status(session_self self, session_status s);

}  // namespace caa::detail
