#pragma once

// The WebSocket frames of API.md "WebSocket": decoding of client messages and encoding of server
// messages. Pure functions (no I/O), shared by the connection handler and the tests.
//
// Client -> server (JSON text): prompt (turn fields + optional session_id), interrupt, answer,
// control, subscribe {session_id, after?}, ping. Server -> client:
//   {"type":"event","session_id","id":seq,"event":name,"data":{...}}  (data: the event verbatim)
//   {"type":"ack","for":"prompt"|...,"session_id"}
//   {"type":"error","code","message","for"?,"session_id"?,"details"?}
//   {"type":"pong"}

#include <rapidjson/document.h>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace caa::api {

/// The kinds of client frames.
enum class ws_frame_type : uint8_t { prompt, interrupt, answer, control, subscribe, ping };

/// The wire name of `x` ("prompt", ...).
std::string_view to_string(ws_frame_type x) noexcept;

/// One client frame, its envelope checked. The turn fields of a prompt and the fields of an
/// answer or control are decoded by their own decoders (they need the caller's policy).
struct ws_frame {
  ws_frame_type type = ws_frame_type::ping;
  std::optional<std::string> session_id;     ///< lower-case UUID, when given
  uint64_t after = 0;                        ///< subscribe: replay events after this id
  std::string turn_body;                     ///< prompt: the frame without `type` (compact JSON)
  std::shared_ptr<rapidjson::Document> doc;  ///< answer, control: the parsed frame
};

/// Decodes one client message. Every problem is an `errc::validation` error listing the fields
/// (`frame` for a binary message or a text that is not one JSON object, `type`, `session_id`,
/// `after`, unknown members of the envelope-only frames).
caf::expected<ws_frame> decode_ws_frame(std::string_view text, bool binary);

/// The frame of event `seq` named `name` of session `session_id` with JSON object `data`.
std::string ws_event_frame(std::string_view session_id, uint64_t seq, std::string_view name,
                           std::string_view data);

/// The acknowledgement of a `for_type` frame about `session_id` (empty: no session member).
std::string ws_ack_frame(std::string_view for_type, std::string_view session_id);

/// The error frame of `e` (public code and message from the error catalogue; `details.errors`
/// for validation errors, `details.retry_after` when the error carries a hint, and only
/// `details.correlation_id` for internal errors). `for_type` and `session_id` are added when not
/// empty.
std::string ws_error_frame(const caf::error& e, std::string_view for_type,
                           std::string_view session_id, std::string_view correlation_id);

/// The answer to a ping.
std::string ws_pong_frame();

}  // namespace caa::api
