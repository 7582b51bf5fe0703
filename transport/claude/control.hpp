#pragma once

#include "transport/claude/options.hpp"

#include <caf/expected.hpp>

#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace caa::claude {

// -- ids ------------------------------------------------------------------------------------------

/// Makes the request ids of our control requests: `req_<counter>_<8 hex>` as the Python SDK.
/// Not thread-safe: one per session actor.
class request_id_generator {
 public:
  /// Seeds the random suffix from `std::random_device`.
  request_id_generator();

  /// The next id, e.g. "req_1_9f86d081".
  std::string next();

 private:
  uint64_t counter_ = 0;
  std::mt19937 rng_;
};

// -- stdin lines (every builder returns one compact JSON object without '\n') ------------------

/// A user message with a string content: `{"type":"user","message":{"role":"user","content":
/// text},"parent_tool_use_id":null,"session_id":"","uuid":uuid}`. Ill-formed UTF-8 becomes
/// U+FFFD. `uuid` is the turn's checkpoint id; it must be unique in the session.
std::string user_message(std::string_view text, std::string_view uuid);

/// A user message whose content is `images` (base64 blocks) followed by one text block.
std::string user_message(std::string_view text, const std::vector<image_input>& images,
                         std::string_view uuid);

/// A user message with caller-built content: `content_json` must be a non-empty JSON array of
/// content blocks or a string.
caf::expected<std::string> user_message_raw(std::string_view content_json, std::string_view uuid);

/// The `agents` object of `initialize`: name -> {description, prompt, tools?, model?}.
std::string agents_json(const std::map<std::string, agent_definition>& agents);

/// `initialize` with optional `hooks` and `agents` objects (empty text: omitted).
caf::expected<std::string> initialize(std::string_view request_id, std::string_view hooks_json,
                                      std::string_view agents_json);

/// `interrupt`: stops the running turn; the process stays usable.
std::string interrupt(std::string_view request_id);

/// `end_session`: success reply, then the CLI exits 0.
std::string end_session(std::string_view request_id);

/// `set_permission_mode` (the CLI does not validate `mode`: the caller must).
std::string set_permission_mode(std::string_view request_id, std::string_view mode);

/// `set_model`; an empty `model` resets to the default.
std::string set_model(std::string_view request_id, std::string_view model);

/// `rewind_files` to the prompt whose uuid is `user_message_id`.
std::string rewind_files(std::string_view request_id, std::string_view user_message_id,
                         bool dry_run);

/// `mcp_status`.
std::string mcp_status(std::string_view request_id);

/// A success reply to a CLI request; `payload_json` (empty: none) must be a JSON object.
caf::expected<std::string> control_success(std::string_view request_id,
                                           std::string_view payload_json);

/// An error reply to a CLI request.
std::string control_error(std::string_view request_id, std::string_view message);

/// Allows a `can_use_tool` request; `updated_input_json` (an object) is REQUIRED by the CLI:
/// pass the original `input` when nothing changes.
caf::expected<std::string> can_use_tool_allow(std::string_view request_id,
                                              std::string_view updated_input_json);

/// Denies a `can_use_tool` request; `interrupt` also ends the turn.
std::string can_use_tool_deny(std::string_view request_id, std::string_view message,
                              bool interrupt);

// -- stdout lines -----------------------------------------------------------------------------

/// What a stdout line of the CLI is.
enum class message_kind : uint8_t {
  system_init,        ///< `system/init` (re-sent at the start of every turn)
  system_other,       ///< any other `system` subtype
  assistant,          ///< one content block of a model reply
  user,               ///< tool results, interrupt markers, replays
  result,             ///< the end of a turn
  stream_event,       ///< a raw API stream event (partial messages)
  control_request,    ///< the CLI asks us (can_use_tool, hook_callback, mcp_message...)
  control_response,   ///< the CLI answers one of our requests
  control_cancel,     ///< `control_cancel_request`: the CLI withdrew one of its requests
  transcript_mirror,  ///< a transcript entry (`--session-mirror`)
  keep_alive,         ///< liveness only
  other,              ///< valid JSON of another type, or a line not starting with '{'
  invalid,            ///< starts with '{' but is not valid JSON
};

/// The stable name of a kind, e.g. "control_request".
std::string_view to_string(message_kind k) noexcept;

/// Where one member's value lies in a classified line: `raw.substr(begin, end - begin)` is its
/// JSON text exactly as received (valid JSON: the whole line parsed).
struct json_member {
  std::string key;          ///< the member's name (unescaped)
  bool in_message = false;  ///< a member of the top-level `message` object, else top-level
  std::size_t begin = 0;    ///< offset of the value's first byte in `raw`
  std::size_t end = 0;      ///< offset one past its last byte
};

/// One classified stdout line: its kind, the key fields, and the untouched line.
struct cli_message {
  message_kind kind = message_kind::invalid;  ///< see `message_kind`
  std::string type;                           ///< top-level `type`
  std::string subtype;     ///< `subtype`; for control messages the request's/response's subtype
  std::string request_id;  ///< control messages: the id (a response's `response.request_id`)
  std::string session_id;  ///< `session_id`
  std::string uuid;        ///< `uuid`
  std::string parent_tool_use_id;  ///< set inside subagents
  std::string tool_name;           ///< `request.tool_name` of a can_use_tool request
  std::string error;               ///< `response.error` of an error control_response
  bool is_error = false;           ///< `is_error` of a result (check this, not `subtype`)
  bool is_replay = false;          ///< `isReplay` of an echoed user message
  std::string raw;                 ///< the line as received, for pass-through
  /// The members of the top-level object and of its `message` object, in order, with where
  /// their values lie in `raw`: the event mapper builds events from these spans instead of
  /// parsing the line a second time.
  std::vector<json_member> members;
  std::size_t depth = 0;  ///< the deepest nesting of the line (objects and arrays)

  /// The JSON text of the first top-level member `key` (or of `message`'s when `in_message`);
  /// empty when there is none.
  std::string_view member_text(std::string_view key, bool in_message = false) const;
};

/// Classifies one line without building a DOM (SAX, iterative: no deep recursion, never throws
/// on bad input). Takes the line by value so callers can move it into `raw`.
cli_message classify(std::string line);

}  // namespace caa::claude
