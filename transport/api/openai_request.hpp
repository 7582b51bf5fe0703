#pragma once

// The OpenAI-compatible requests (`POST /v1/chat/completions`, `POST /v1/responses`) decoded
// into an agent turn. Pure functions: no I/O, unit-tested.
//
// How a conversation becomes a turn (README "OpenAI-compatible API"):
//   * the last user message is the prompt (its text parts joined by blank lines, its data-URL
//     images as the turn's images);
//   * in a NEW session, every earlier user/assistant message comes first, inside a
//     <conversation> block, as context; system and developer messages (chat) and
//     `instructions` (responses) become the system prompt;
//   * in a CONTINUED session (chat: `metadata.session_id`, or a `user` whose session has had as
//     many turns as the request has earlier user messages; responses: `previous_response_id`)
//     the session already holds the history: chat sends only the last user message, responses
//     sends its input items as given;
//   * fields OpenAI clients send routinely and an agent turn has no use for (`temperature`,
//     `top_p`, `max_tokens`, `stop`, `seed`, penalties, `store`, ...) are accepted and ignored;
//     what would make the answer silently wrong (`n` > 1, `logprobs`, client-side `tools`,
//     `response_format` other than text, audio, an http image URL) is a 400, as is any field
//     OpenAI does not define.

#include "transport/api/openai_ids.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace caa::api::openai {

/// An error answered in OpenAI's shape.
struct request_error {
  unsigned status = 400;
  std::string message;
  std::string type = "invalid_request_error";
  std::string code;
  std::string param;  ///< empty: null
};

/// One message of the conversation, reduced to what a turn takes.
struct chat_message {
  std::string role;                      ///< user, assistant, system or developer
  std::string text;                      ///< the text parts, joined by blank lines
  std::vector<std::string> images_json;  ///< our image objects ({"type":"base64",...})
};

/// What a chat completion or a response asks of the agent.
struct turn_plan {
  std::string model;  ///< as asked (echoed in the answer)
  bool stream = false;
  bool include_usage = false;             ///< chat: `stream_options.include_usage`
  bool agent_events = false;              ///< `x_agent_events`: tool uses as a side channel
  bool background = false;                ///< responses: `background`
  std::optional<std::string> session_id;  ///< chat: `metadata.session_id` (a uuid)
  std::optional<std::string> user;        ///< chat: `user`
  std::optional<std::string> previous_response_id;  ///< responses
  std::string system_prompt;           ///< system/developer messages, or `instructions`
  std::vector<chat_message> messages;  ///< user and assistant messages, in order
};

/// Decodes a `POST /v1/chat/completions` body.
std::variant<turn_plan, request_error> decode_chat_request(std::string_view body);

/// Decodes a `POST /v1/responses` body.
std::variant<turn_plan, request_error> decode_responses_request(std::string_view body);

/// The number of user messages before the last one (the turns a reused session must have had).
std::size_t earlier_user_messages(const turn_plan& plan);

/// The body of `POST /api/v1/query` for `plan`: a new session (`session_id` empty) takes the
/// context and the system prompt, a continued one (`session_id` set) only what is new (see the
/// file comment). `tags` are stored with a new session. `partial` asks for token deltas.
std::string api_turn_body(const turn_plan& plan, const std::optional<std::string>& session_id,
                          bool responses, const std::vector<std::string>& tags, bool partial);

/// The model name of the API body for an OpenAI `model`: nothing for "default", the name
/// itself when the turn decoder accepts it; `error` otherwise (404 model_not_found).
std::optional<request_error> check_model(std::string_view model);

}  // namespace caa::api::openai
