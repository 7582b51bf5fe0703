#pragma once

#include <rapidjson/document.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace scripted_model {

/// A tool_result block sent back by the CLI.
struct tool_result {
  /// The `tool_use_id` it answers.
  std::string tool_use_id;
  /// Its content as text (text blocks joined with newlines).
  std::string content;
  /// The block's `is_error`.
  bool is_error = false;
  /// The scenario step whose tool call it answers (0 for the first assistant message).
  std::size_t step = 0;
};

/// What the scripted model needs to know about one `/v1/messages` request body.
struct conversation {
  /// The request's `model`.
  std::string model;
  /// The request's `stream`.
  bool stream = false;
  /// The request's `max_tokens` (0 if absent).
  long max_tokens = 0;
  /// Names of the offered tools, in request order.
  std::vector<std::string> tools;
  /// Whether the request has a `tools` field at all (the agent loop always sends one, even
  /// empty with `--tools ""`; the CLI's side requests do not).
  bool has_tools_field = false;
  /// All `system` text joined with newlines (a string `system` counts as one block).
  std::string system_text;
  /// The text of the latest real prompt, `<system-reminder>` blocks left out.
  std::string prompt;
  /// How many assistant messages follow that prompt: the scenario step to play.
  std::size_t step = 0;
  /// Every tool_result after that prompt, in order.
  std::vector<tool_result> results;
  /// The CLI's working directory, when the system prompt states it.
  std::optional<std::string> cwd;

  /// True if the request offers a tool named `name`.
  bool offers(std::string_view name) const;
  /// The contents of the tool_results answering the latest assistant message, joined with
  /// newlines ("" if there are none).
  std::string latest_results() const;
};

/// Extracts a conversation from a parsed request body; nullopt if it is not a Messages request
/// (no `messages` array).
std::optional<conversation> analyse(const rapidjson::Value& body);

/// True for a user message that is a real prompt: it has no tool_result block and at least one
/// text block (or string content) that is not a `<system-reminder>`.
bool is_prompt(const rapidjson::Value& message);

/// The working directory stated in a system prompt ("Primary working directory: /x" or
/// "Working directory: /x"), if any.
std::optional<std::string> find_working_directory(std::string_view system_text);

/// True for the CLI's side requests (quota check, API key verification, model validation,
/// title generation) that must not play a scenario: `max_tokens` of 1, or no `tools` field.
bool is_side_request(const conversation& c);

}  // namespace scripted_model
