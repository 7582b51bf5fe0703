#pragma once

// One agent turn's API events (API.md "SSE stream") rendered for OpenAI clients: chat
// completion chunks and documents, and Responses API events and objects. Pure: no I/O,
// deterministic (the same events give the same output, which makes a Responses stream
// resumable at any `sequence_number` by replaying the turn from the event log).
//
// Text: the main agent's text blocks, in order, separated by a blank line. Token deltas
// (`partial` events) are used when the session sends them; the `message` event of a block
// whose deltas were sent adds nothing, so streamed deltas always reassemble to the document.
// The agent's tool uses are text lines (`[tool: Name {input}]`) unless `x_agent_events` is
// asked: every event other than text, `partial`, `result` and `done` then goes to a side
// channel (chat: chunks with no choices and an `x_agent_event` member; responses:
// `response.x_agent_event` events) that a client can ignore.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace caa::api::openai {

/// What a turn's events amount to so far.
class turn_reader {
 public:
  /// One piece of output.
  struct piece {
    enum kind_t : uint8_t { text, agent_event } kind = text;
    std::string body;  ///< text: the delta; agent_event: `{"event":name,"data":{...}}`
  };

  /// Tool uses as text unless `agent_events`.
  explicit turn_reader(bool agent_events) : agent_events_(agent_events) {}

  /// Takes one event of the turn; appends what it yields. Nothing after `done`.
  void feed(std::string_view name, std::string_view data, std::vector<piece>& out);

  bool done() const noexcept { return done_; }
  /// `completed`, `interrupted` or `error` once done.
  const std::string& done_reason() const noexcept { return done_reason_; }
  /// All text so far.
  const std::string& text() const noexcept { return text_; }
  /// The model of the turn (from `init` or the assistant messages).
  const std::string& model() const noexcept { return model_; }
  /// `result.subtype` and `result.stop_reason` (empty when absent).
  const std::string& subtype() const noexcept { return subtype_; }
  const std::string& stop_reason() const noexcept { return stop_reason_; }
  /// The `error` event's code and message (empty when none).
  const std::string& error_code() const noexcept { return error_code_; }
  const std::string& error_message() const noexcept { return error_message_; }
  /// Whether a `result` arrived, and its figures.
  bool has_result() const noexcept { return has_result_; }
  uint64_t input_tokens = 0;   ///< input + cache read + cache creation
  uint64_t cached_tokens = 0;  ///< cache read
  uint64_t output_tokens = 0;
  double cost_usd = 0;

  /// chat's `finish_reason`: `length` when the turn hit a limit (max turns, budget, max
  /// tokens), else `stop`.
  std::string_view finish_reason() const noexcept;

 private:
  void on_partial(std::string_view data, std::vector<piece>& out);
  void on_message(std::string_view data, std::vector<piece>& out);
  void on_result(std::string_view data, std::vector<piece>& out);
  void emit_text(std::string_view text, bool new_block, std::vector<piece>& out);

  bool agent_events_;
  bool done_ = false;
  bool has_result_ = false;
  bool need_sep_ = false;         ///< the next text starts a block after earlier text
  unsigned streamed_blocks_ = 0;  ///< text blocks sent as deltas, their message not yet seen
  std::string done_reason_;
  std::string text_;
  std::string model_;
  std::string subtype_;
  std::string stop_reason_;
  std::string error_code_;
  std::string error_message_;
};

/// What every chat answer repeats.
struct chat_meta {
  std::string id;  ///< chatcmpl-...
  int64_t created = 0;
  std::string model;       ///< as asked
  std::string session_id;  ///< the agent session (x_session_id)
};

/// The first chunk (`delta.role`).
std::string chat_role_chunk(const chat_meta& m);
/// A chunk with a text delta.
std::string chat_text_chunk(const chat_meta& m, std::string_view text);
/// A side-channel chunk: no choices, `x_agent_event`.
std::string chat_agent_chunk(const chat_meta& m, std::string_view event_json);
/// The last chunk of the choice (empty delta, `finish_reason`).
std::string chat_finish_chunk(const chat_meta& m, const turn_reader& r);
/// The usage chunk of `stream_options.include_usage` (no choices).
std::string chat_usage_chunk(const chat_meta& m, const turn_reader& r);
/// The whole `chat.completion` document (`agent_events`: the side channel's events, sent as
/// `x_agent_events` when not empty).
std::string chat_completion(const chat_meta& m, const turn_reader& r,
                            const std::vector<std::string>& agent_events);

/// What every response object repeats.
struct response_meta {
  std::string id;  ///< resp_...
  int64_t created_at = 0;
  std::string model;  ///< as asked (the turn's model when not known)
  std::string session_id;
  std::optional<std::string> previous_response_id;
  std::string instructions;
  bool background = false;
};

/// Builds the Responses API events of one turn and its response object.
class response_builder {
 public:
  /// One streamed event: its type and its JSON (with `sequence_number`).
  struct event {
    std::string type;
    std::string json;
    uint64_t sequence_number = 0;
  };

  response_builder(response_meta meta, bool agent_events);

  /// The first events: `response.created` (status `queued` when `queued`, else
  /// `in_progress`) and `response.in_progress`.
  void start(bool queued, std::vector<event>& out);
  /// Takes one API event of the turn; appends the events it yields.
  void feed(std::string_view name, std::string_view data, std::vector<event>& out);

  bool done() const noexcept { return reader_.done(); }
  /// The response object now: `in_progress` (or `queued`) until the turn is done, then
  /// `completed`, `incomplete` (a limit), `cancelled` (interrupted) or `failed`.
  std::string object(bool queued = false) const;
  /// The status `object` reports.
  std::string_view status(bool queued = false) const;

 private:
  void push(std::vector<event>& out, std::string type, const std::string& body_members);
  void open_item(std::vector<event>& out);
  void close_item(std::vector<event>& out);
  /// The message item; `with_text`: with its text part (the text so far while in progress).
  std::string item_json(bool done, bool with_text) const;

  response_meta meta_;
  turn_reader reader_;
  uint64_t next_seq_ = 0;
  bool item_open_ = false;
  bool item_done_ = false;
};

}  // namespace caa::api::openai
