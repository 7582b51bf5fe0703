#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace scripted_model {

/// One content block of a scripted assistant reply.
struct content_block {
  /// Whether the block is text or a tool call.
  enum class kind { text, tool_use };

  /// The block's type.
  kind type = kind::text;
  /// Text blocks: the text as streamed, one `text_delta` per element.
  std::vector<std::string> deltas;
  /// Tool blocks: the tool name, e.g. `Bash`.
  std::string tool_name;
  /// Tool blocks: the `id` (`toolu_...`), filled in by the router.
  std::string tool_id;
  /// Tool blocks: the tool input, a serialized JSON object.
  std::string input_json;

  /// The full text of a text block.
  std::string text() const;
};

/// What the scripted model answers to one `/v1/messages` request.
struct reply {
  /// 200 for a message; anything else is an Anthropic error response.
  unsigned http_status = 200;
  /// The error message when `http_status != 200`.
  std::string error_message;
  /// The assistant content.
  std::vector<content_block> blocks;
  /// `end_turn` or `tool_use`.
  std::string stop_reason = "end_turn";
  /// Pause before each `text_delta` after the first one (the `slow` scenario).
  std::chrono::milliseconds delta_delay{0};
};

/// A text block split into about `chunks` deltas (at least one, never splitting UTF-8 sequences).
content_block make_text(const std::string& text, std::size_t chunks = 3);

/// A tool_use block calling `name` with the JSON object `input_json`.
content_block make_tool_use(std::string name, std::string input_json);

/// A reply made of one text block, ending the turn.
reply text_reply(const std::string& text, std::size_t chunks = 3);

/// A reply made of tool calls, stop reason `tool_use`.
reply tool_reply(std::vector<content_block> calls);

/// An HTTP error reply with Anthropic's error body.
reply error_reply(unsigned status, std::string message);

}  // namespace scripted_model
