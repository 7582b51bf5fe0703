#pragma once

// A session's event log (the SSE history) and the CLI transcript lines, as pure request builders
// and result parsers over the pg_actor protocol (sessions and turns: session_queries.hpp).
// Appends are written by the `event_writer` (events) and the session actor (transcript lines);
// reads match the tenant: another tenant's session is `errc::session_not_found`.

#include "storage/postgres/pg_text.hpp"
#include "storage/types.hpp"

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace caa::storage {

/// The most events one `make_read_events_query` returns.
inline constexpr unsigned max_event_page = 1000;

/// One page of a session's events.
struct event_page {
  std::vector<session_event> events;  ///< ascending seq
  uint64_t last_seq = 0;              ///< the session's highest stored seq (more when > back())
  /// The highest stored seq up to the `after` of the read (0: none). Below `after`, the ids
  /// between it and `after` are a hole of the history (events an async session lost).
  uint64_t stored_up_to_after = 0;
};

/// How one session of an append fared.
struct append_status {
  std::string session_id;  ///< uuid
  uint64_t last_seq = 0;   ///< the session's last_seq before the append
  bool written = false;    ///< false: the events would leave a hole after `last_seq`, or fenced
  bool fenced = false;     ///< the session is at another epoch now: another node owns it
};

/// One line of a session's CLI transcript.
struct transcript_line {
  std::string subpath;   ///< the file, relative to the session's transcript ('' = main)
  uint64_t line_no = 0;  ///< its line number in that file
  std::string entry;     ///< the JSONL line exactly as the CLI wrote it
};

/// Why `e` cannot be stored: malformed session id, seq 0 or above 2^63-1, empty type or payload.
caf::error check_event(const session_event& e);

/// Builds ONE multi-row append (`unnest` of array parameters, the payloads as one text separated
/// by byte 0x1E) from events of any sessions. A session's events are written only if they
/// continue its stream without a hole (the first new seq is last_seq + 1, and no seq is skipped);
/// events already stored are skipped, so a retry is harmless. Each session's last_seq becomes its
/// highest seq in the same statement. Payloads pass through `jsonb_safe`.
class append_events_builder {
 public:
  /// Adds `e`. Errors: validation (`check_event`, or a raw byte 0x1E outside the payload's
  /// strings: not JSON, and the separator of the payloads); nothing is added then.
  caf::error add(const session_event& e);

  /// Events added so far.
  std::size_t size() const noexcept { return count_; }

  /// Bytes of event text added so far (types and payloads).
  std::size_t bytes() const noexcept { return bytes_; }

  /// The statement; the builder is spent. Reply: `parse_append_events`.
  db_query finish() &&;

 private:
  pg_array_builder ids_;
  pg_array_builder seqs_;
  pg_array_builder types_;
  std::string payloads_;
  pg_array_builder epochs_;
  std::size_t count_ = 0;
  std::size_t bytes_ = 0;
};

/// The append of `events` (see `append_events_builder`). Errors: validation (an invalid event,
/// or none).
caf::expected<db_query> make_append_events_query(const std::vector<session_event>& events);

/// One status per session of the append that exists (a missing session has none).
caf::expected<std::vector<append_status>> parse_append_events(const db_result& r);

/// Reads up to `limit` (clamped to [1, max_event_page]) events with seq > `after_seq`.
/// Reply: `parse_event_page`.
db_query make_read_events_query(std::string_view tenant_id, std::string_view session_id,
                                uint64_t after_seq, unsigned limit);

/// The events of a `make_read_events_query` reply; no row means session_not_found.
caf::expected<event_page> parse_event_page(const db_result& r);

/// Whether `subpath` is a relative transcript path: '' or components of [A-Za-z0-9_.-] that do
/// not start with '.', joined by '/', at most 255 characters.
bool valid_transcript_subpath(std::string_view subpath) noexcept;

/// Stores `lines` as lines `first_line_no`, +1, ... of file `subpath` of the session's transcript
/// (one statement; lines already stored are skipped). Errors: validation (malformed id or
/// subpath). A missing session is a conflict (foreign key). Reply: `db_result::affected`.
caf::expected<db_query> make_append_transcript_query(std::string_view session_id,
                                                     std::string_view subpath,
                                                     uint64_t first_line_no,
                                                     const std::vector<std::string>& lines);

/// Reads the whole transcript of a session. Reply: `parse_transcript`.
db_query make_read_transcript_query(std::string_view tenant_id, std::string_view session_id);

/// The lines of a `make_read_transcript_query` reply, ordered by subpath and line number; no row
/// means session_not_found.
caf::expected<std::vector<transcript_line>> parse_transcript(const db_result& r);

}  // namespace caa::storage
