#pragma once

// The ids of the OpenAI-compatible layer: response ids (which name a session and the event
// before a turn, so a response is read back from the event log) and the session tag of a chat
// `user`. Pure functions.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace caa::api::openai {

/// The session tag of chat `user` (a digest: the user string itself is not stored).
std::string user_tag(std::string_view user);

/// A response id: `resp_<session hex>_<after seq>_<created unix seconds>`.
std::string response_id(std::string_view session_id, uint64_t after_seq, int64_t created);

/// What a response id names.
struct response_ref {
  std::string session_id;  ///< canonical uuid
  uint64_t after_seq = 0;  ///< the last event id before the response's turn
  int64_t created = 0;     ///< unix seconds
};

/// Parses a response id; nothing when it is not one of ours.
std::optional<response_ref> parse_response_id(std::string_view id);

}  // namespace caa::api::openai
