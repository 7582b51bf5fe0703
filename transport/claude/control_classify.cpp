#include "transport/claude/control.hpp"

#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>

namespace caa::claude {

namespace {

/// SAX handler that records the few fields we route on and ignores everything else.
class field_collector : public rapidjson::BaseReaderHandler<rapidjson::UTF8<>, field_collector> {
 public:
  explicit field_collector(cli_message& msg) : msg_(msg) {
    // nop
  }

  bool StartObject() { return open(true); }
  bool StartArray() { return open(false); }
  bool EndObject(rapidjson::SizeType) { return close(); }
  bool EndArray(rapidjson::SizeType) { return close(); }

  bool Key(const char* s, rapidjson::SizeType n, bool) {
    if (depth_ == 1)
      key1_.assign(s, n);
    else if (depth_ == 2)
      key2_.assign(s, n);
    return true;
  }

  bool String(const char* s, rapidjson::SizeType n, bool) {
    std::string_view value{s, n};
    if (depth_ == 1)
      top_level_string(value);
    else if (depth_ == 2 && inner_is_object_)
      inner_string(value);
    return true;
  }

  bool Bool(bool b) {
    if (depth_ == 1 && key1_ == "is_error")
      msg_.is_error = b;
    else if (depth_ == 1 && key1_ == "isReplay")
      msg_.is_replay = b;
    return true;
  }

  bool RawNumber(const char*, rapidjson::SizeType, bool) { return true; }

  std::string inner_subtype;     ///< `request.subtype` or `response.subtype`
  std::string inner_request_id;  ///< `response.request_id`

 private:
  bool open(bool is_object) {
    if (depth_ == 1) {
      inner_owner_ = key1_;
      inner_is_object_ = is_object;
    }
    ++depth_;
    return true;
  }

  bool close() {
    --depth_;
    return true;
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
  int depth_ = 0;
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
  field_collector fields{msg};
  rapidjson::MemoryStream stream{line.data(), line.size()};
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
