#pragma once

// The stdout side of the fake CLI: the stream-json lines it writes, built by hand (the fields
// the service and the SDKs read, CLI-PROTOCOL.md §5), and the one write per line.

#include <cstdint>
#include <string>
#include <string_view>

namespace bench::fake {

/// CLOCK_MONOTONIC in nanoseconds: the clock the load client reads too (same machine).
int64_t monotonic_ns();

/// A random RFC 4122 version-4 UUID.
std::string make_uuid();

/// Writes `line` plus '\n' to stdout in one write(2) (retried on a short write); exits the
/// process with 0 when the reader is gone (EPIPE).
void write_line(std::string line);

/// `{"type":"control_response","response":{"subtype":"success","request_id":id,"response":
/// payload}}`; an empty `payload_json` omits `response`.
std::string control_success(std::string_view request_id, std::string_view payload_json);

/// The error reply to a control request.
std::string control_error(std::string_view request_id, std::string_view message);

/// The payload of a successful `initialize` (commands, agents, models, account, pid).
std::string initialize_payload();

/// `system/init`, as the CLI re-emits it at the start of every turn.
std::string system_init(std::string_view session_id);

/// One assistant line whose text block is `text`.
std::string assistant_text(std::string_view session_id, std::string_view message_id,
                           std::string_view text);

/// One `stream_event` carrying a `content_block_delta` with `text` (partial messages).
std::string text_delta(std::string_view session_id, std::string_view text);

/// The user line the CLI writes after an interrupt ("[Request interrupted by user]").
std::string interrupted_marker(std::string_view session_id);

/// What ended a turn.
struct turn_outcome {
  bool interrupted = false;  ///< ended by `interrupt` (error_during_execution)
  int num_turns = 1;         ///< 0 for a `shouldQuery:false` message
  int64_t events = 0;        ///< events written in this turn
  int64_t duration_ms = 0;   ///< wall time of the turn
};

/// The `result` line of a turn.
std::string result_line(std::string_view session_id, const turn_outcome& outcome);

}  // namespace bench::fake
