#include "transport/claude/control.hpp"

#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>

#include <algorithm>

namespace caa::claude {

namespace {

/// SAX handler that records the few fields we route on and ignores everything else.
class field_collector : public rapidjson::BaseReaderHandler<rapidjson::UTF8<>, field_collector> {
 public:
  field_collector(cli_message& msg, std::string_view line, const rapidjson::MemoryStream& stream)
      : msg_(msg), line_(line), stream_(stream) {
    // nop
  }

  // The reader calls StartObject/StartArray and EndObject/EndArray with the stream at the
  // bracket (not yet taken), and the scalar handlers with the stream just past the value.
  bool StartObject() { return open(true); }
  bool StartArray() { return open(false); }
  bool EndObject(rapidjson::SizeType) { return close(); }
  bool EndArray(rapidjson::SizeType) { return close(); }

  bool Key(const char* s, rapidjson::SizeType n, bool) {
    if (depth_ == 1) {
      key1_.assign(s, n);
      if (key1_ == "message") {
        first_message_ = !message_seen_;
        message_seen_ = true;
      }
    } else if (depth_ == 2)
      key2_.assign(s, n);
    value_begin_ = value_start(stream_.Tell());
    return true;
  }

  bool String(const char* s, rapidjson::SizeType n, bool) {
    std::string_view value{s, n};
    if (depth_ == 1)
      top_level_string(value);
    else if (depth_ == 2 && inner_is_object_)
      inner_string(value);
    return scalar();
  }

  bool Bool(bool b) {
    if (depth_ == 1 && key1_ == "is_error")
      msg_.is_error = b;
    else if (depth_ == 1 && key1_ == "isReplay")
      msg_.is_replay = b;
    return scalar();
  }

  bool Null() { return scalar(); }
  bool RawNumber(const char*, rapidjson::SizeType, bool) { return scalar(); }

  std::string inner_subtype;     ///< `request.subtype` or `response.subtype`
  std::string inner_request_id;  ///< `response.request_id`

 private:
  bool open(bool is_object) {
    if (depth_ == 1) {
      inner_owner_ = key1_;
      inner_is_object_ = is_object;
      in_message_ = is_object && key1_ == "message" && first_message_;
      member_begin_ = value_begin_;
    } else if (depth_ == 2) {
      inner_member_begin_ = value_begin_;
    }
    ++depth_;
    msg_.depth = std::max(msg_.depth, depth_);
    return true;
  }

  bool close() {
    --depth_;
    note_member(stream_.Tell() + 1);  // past the bracket
    return true;
  }

  /// A scalar value ended just before the stream's position.
  bool scalar() {
    if (depth_ == 1) member_begin_ = value_begin_;
    if (depth_ == 2) inner_member_begin_ = value_begin_;
    note_member(stream_.Tell());
    return true;
  }

  /// Records the member whose value ends at `end`, when it is one we keep: top-level, or of
  /// the top-level `message` object (the first, as a document's lookup finds).
  void note_member(std::size_t end) {
    if (depth_ == 1)
      msg_.members.push_back({key1_, false, member_begin_, end});
    else if (depth_ == 2 && in_message_)
      msg_.members.push_back({key2_, true, inner_member_begin_, end});
  }

  /// Where the value after a key that ended at `pos` begins (past blanks, the colon, blanks).
  std::size_t value_start(std::size_t pos) const {
    auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
    while (pos < line_.size() && blank(line_[pos])) ++pos;
    if (pos < line_.size() && line_[pos] == ':') ++pos;
    while (pos < line_.size() && blank(line_[pos])) ++pos;
    return pos;
  }

  void top_level_string(std::string_view v) {
    if (key1_ == "type")
      msg_.type = v;
    else if (key1_ == "subtype")
      msg_.subtype = v;
    else if (key1_ == "request_id")
      msg_.request_id = v;
    else if (key1_ == "session_id")
      msg_.session_id = v;
    else if (key1_ == "uuid")
      msg_.uuid = v;
    else if (key1_ == "parent_tool_use_id")
      msg_.parent_tool_use_id = v;
  }

  void inner_string(std::string_view v) {
    if (inner_owner_ != "request" && inner_owner_ != "response") return;
    if (key2_ == "subtype")
      inner_subtype = v;
    else if (key2_ == "request_id")
      inner_request_id = v;
    else if (key2_ == "tool_name")
      msg_.tool_name = v;
    else if (key2_ == "error")
      msg_.error = v;
  }

  cli_message& msg_;
  std::string_view line_;
  const rapidjson::MemoryStream& stream_;
  std::size_t depth_ = 0;
  std::size_t value_begin_ = 0;         ///< where the value of the last key begins
  std::size_t member_begin_ = 0;        ///< where the current top-level value begins
  std::size_t inner_member_begin_ = 0;  ///< where the current depth-2 value begins
  bool message_seen_ = false;           ///< a top-level `message` key came
  bool first_message_ = false;          ///< the last top-level `message` key was the first
  bool in_message_ = false;             ///< inside the first top-level `message` object
  bool inner_is_object_ = false;
  std::string key1_;
  std::string key2_;
  std::string inner_owner_;
};

message_kind kind_of(cli_message& msg, field_collector& fields) {
  const auto& t = msg.type;
  if (t == "system")
    return msg.subtype == "init" ? message_kind::system_init : message_kind::system_other;
  if (t == "assistant") return message_kind::assistant;
  if (t == "user") return message_kind::user;
  if (t == "result") return message_kind::result;
  if (t == "stream_event") return message_kind::stream_event;
  if (t == "control_request") {
    msg.subtype = std::move(fields.inner_subtype);
    return message_kind::control_request;
  }
  if (t == "control_response") {
    msg.subtype = std::move(fields.inner_subtype);
    msg.request_id = std::move(fields.inner_request_id);
    return message_kind::control_response;
  }
  if (t == "control_cancel_request") return message_kind::control_cancel;
  if (t == "transcript_mirror") return message_kind::transcript_mirror;
  if (t == "keep_alive") return message_kind::keep_alive;
  return message_kind::other;
}

}  // namespace

std::string_view to_string(message_kind k) noexcept {
  switch (k) {
    case message_kind::system_init:
      return "system_init";
    case message_kind::system_other:
      return "system_other";
    case message_kind::assistant:
      return "assistant";
    case message_kind::user:
      return "user";
    case message_kind::result:
      return "result";
    case message_kind::stream_event:
      return "stream_event";
    case message_kind::control_request:
      return "control_request";
    case message_kind::control_response:
      return "control_response";
    case message_kind::control_cancel:
      return "control_cancel";
    case message_kind::transcript_mirror:
      return "transcript_mirror";
    case message_kind::keep_alive:
      return "keep_alive";
    case message_kind::other:
      return "other";
    case message_kind::invalid:
      return "invalid";
  }
  return "invalid";
}

std::string_view cli_message::member_text(std::string_view key, bool in_message) const {
  for (const auto& m : members)
    if (m.in_message == in_message && m.key == key)
      return std::string_view{raw}.substr(m.begin, m.end - m.begin);
  return {};
}

cli_message classify(std::string line) {
  cli_message msg;
  auto first = line.find_first_not_of(" \t");
  if (first == std::string::npos || line[first] != '{') {
    msg.kind = message_kind::other;  // debug text some builds print; never JSON
    msg.raw = std::move(line);
    return msg;
  }
  if (line.find('\0') != std::string::npos) {
    msg.kind = message_kind::invalid;  // RapidJSON would stop at the NUL and ignore the rest
    msg.raw = std::move(line);
    return msg;
  }
  msg.members.reserve(16);
  rapidjson::MemoryStream stream{line.data(), line.size()};
  field_collector fields{msg, line, stream};
  rapidjson::Reader reader;
  constexpr unsigned flags = rapidjson::kParseIterativeFlag | rapidjson::kParseNumbersAsStringsFlag;
  if (reader.Parse<flags>(stream, fields).IsError()) {
    msg = cli_message{};
    msg.kind = message_kind::invalid;
  } else {
    msg.kind = kind_of(msg, fields);
  }
  msg.raw = std::move(line);
  return msg;
}

}  // namespace caa::claude
