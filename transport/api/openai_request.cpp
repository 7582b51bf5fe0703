#include "transport/api/openai_request.hpp"

#include "transport/api/query_request.hpp"

#include "config/json_parse.hpp"
#include "config/uuid.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <array>
#include <cctype>

namespace caa::api::openai {

namespace {

using rapidjson::Value;
using writer = rapidjson::Writer<rapidjson::StringBuffer>;

std::string lower_case(std::string_view s) {
  std::string out{s};
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view str(const Value& v) {
  return {v.GetString(), v.GetStringLength()};
}

request_error invalid(std::string message, std::string param, std::string code = "invalid_value") {
  return {400, std::move(message), "invalid_request_error", std::move(code), std::move(param)};
}

request_error unsupported(std::string message, std::string param) {
  return invalid(std::move(message), std::move(param), "unsupported_parameter");
}

/// Fields OpenAI defines that an agent turn accepts and ignores (README lists them).
constexpr std::array<std::string_view, 19> chat_ignored{"temperature",
                                                        "top_p",
                                                        "max_tokens",
                                                        "max_completion_tokens",
                                                        "stop",
                                                        "seed",
                                                        "presence_penalty",
                                                        "frequency_penalty",
                                                        "store",
                                                        "service_tier",
                                                        "reasoning_effort",
                                                        "parallel_tool_calls",
                                                        "prompt_cache_key",
                                                        "verbosity",
                                                        "safety_identifier",
                                                        "web_search_options",
                                                        "stream_options",
                                                        "tool_choice",
                                                        "logit_bias"};

constexpr std::array<std::string_view, 14> responses_ignored{"temperature",
                                                             "top_p",
                                                             "max_output_tokens",
                                                             "store",
                                                             "reasoning",
                                                             "truncation",
                                                             "user",
                                                             "include",
                                                             "service_tier",
                                                             "tool_choice",
                                                             "parallel_tool_calls",
                                                             "prompt_cache_key",
                                                             "safety_identifier",
                                                             "max_tool_calls"};

template <size_t N>
bool listed(const std::array<std::string_view, N>& xs, std::string_view name) {
  return std::find(xs.begin(), xs.end(), name) != xs.end();
}

/// The numeric fields of the ignored set must still be numbers (a client bug is reported).
std::optional<request_error> check_number(const Value& obj, const char* name) {
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd() || it->value.IsNull() || it->value.IsNumber()) return std::nullopt;
  return invalid(std::string{"'"} + name + "' must be a number", name, "invalid_type");
}

std::optional<request_error> check_bool(const Value& obj, const char* name, bool& out) {
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd() || it->value.IsNull()) return std::nullopt;
  if (!it->value.IsBool())
    return invalid(std::string{"'"} + name + "' must be a boolean", name, "invalid_type");
  out = it->value.GetBool();
  return std::nullopt;
}

/// Whether member `name` is present with a value other than null, false, an empty list or an
/// empty object.
bool set_member(const Value& obj, const char* name) {
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd()) return false;
  const auto& v = it->value;
  if (v.IsNull() || (v.IsBool() && !v.GetBool())) return false;
  if (v.IsArray()) return !v.Empty();
  if (v.IsObject()) return v.MemberCount() != 0;
  return true;
}

/// A data URL `data:image/<type>;base64,<data>` as our image object.
std::optional<std::string> image_of_data_url(std::string_view url) {
  constexpr std::string_view prefix = "data:";
  auto comma = url.find(',');
  if (url.substr(0, prefix.size()) != prefix || comma == std::string_view::npos)
    return std::nullopt;
  auto meta = url.substr(prefix.size(), comma - prefix.size());
  constexpr std::string_view b64 = ";base64";
  if (meta.size() <= b64.size() || meta.substr(meta.size() - b64.size()) != b64)
    return std::nullopt;
  auto media = meta.substr(0, meta.size() - b64.size());
  auto data = url.substr(comma + 1);
  rapidjson::StringBuffer buf;
  writer w{buf};
  w.StartObject();
  w.Key("type");
  w.String("base64");
  w.Key("media_type");
  w.String(media.data(), static_cast<rapidjson::SizeType>(media.size()));
  w.Key("data");
  w.String(data.data(), static_cast<rapidjson::SizeType>(data.size()));
  w.EndObject();
  return std::string{buf.GetString(), buf.GetSize()};
}

void add_text(chat_message& m, std::string_view text) {
  if (!m.text.empty()) m.text += "\n\n";
  m.text += text;
}

/// One content part of a message (`param` names it in errors).
std::optional<request_error> take_part(const Value& part, chat_message& m,
                                       const std::string& param) {
  if (!part.IsObject() || !part.HasMember("type") || !part["type"].IsString())
    return invalid("each content part must be an object with a 'type'", param);
  auto type = str(part["type"]);
  if (type == "text" || type == "input_text" || type == "output_text") {
    if (!part.HasMember("text") || !part["text"].IsString())
      return invalid("a text part needs a string 'text'", param);
    add_text(m, str(part["text"]));
    return std::nullopt;
  }
  if (type == "image_url" || type == "input_image") {
    if (m.role != "user") return invalid("images are accepted in user messages only", param);
    std::string_view url;
    const Value* u = part.HasMember("image_url") ? &part["image_url"] : nullptr;
    if (u != nullptr && u->IsObject() && u->HasMember("url") && (*u)["url"].IsString())
      url = str((*u)["url"]);
    else if (u != nullptr && u->IsString())
      url = str(*u);
    auto image = image_of_data_url(url);
    if (!image)
      return unsupported(
          "images must be data URLs (data:image/png;base64,...): the service does not fetch "
          "image URLs",
          param);
    m.images_json.push_back(std::move(*image));
    return std::nullopt;
  }
  return unsupported("content parts of type '" + std::string{type} + "' are not supported", param);
}

/// One message (chat) or message input item (responses) at `param`.
std::optional<request_error> take_message(const Value& item, const std::string& param,
                                          turn_plan& plan) {
  if (!item.IsObject()) return invalid("each message must be an object", param);
  if (item.HasMember("type") && item["type"].IsString() && str(item["type"]) != "message")
    return unsupported("input items of type '" + std::string{str(item["type"])} +
                           "' are not supported: the agent runs its own tools",
                       param);
  if (!item.HasMember("role") || !item["role"].IsString())
    return invalid("each message needs a 'role'", param + ".role");
  chat_message m;
  m.role = std::string{str(item["role"])};
  if (m.role == "tool" || m.role == "function")
    return unsupported(
        "messages of role '" + m.role + "' are not supported: the agent runs its own tools",
        param + ".role");
  if (m.role != "user" && m.role != "assistant" && m.role != "system" && m.role != "developer")
    return invalid("unknown role '" + m.role + "'", param + ".role");
  if (set_member(item, "tool_calls") || set_member(item, "function_call"))
    return unsupported("assistant tool calls are not supported: the agent runs its own tools",
                       param + ".tool_calls");
  auto content = item.FindMember("content");
  if (content == item.MemberEnd() || content->value.IsNull()) {
    if (m.role != "assistant") return invalid("the message has no content", param + ".content");
  } else if (content->value.IsString()) {
    m.text = std::string{str(content->value)};
  } else if (content->value.IsArray()) {
    rapidjson::SizeType i = 0;
    for (const auto& part : content->value.GetArray()) {
      if (auto e = take_part(part, m, param + ".content[" + std::to_string(i++) + "]")) return e;
    }
  } else {
    return invalid("content must be a string or a list of parts", param + ".content");
  }
  if (m.role == "system" || m.role == "developer") {
    if (!plan.system_prompt.empty()) plan.system_prompt += "\n\n";
    plan.system_prompt += m.text;
  } else {
    plan.messages.push_back(std::move(m));
  }
  return std::nullopt;
}

std::optional<request_error> check_last_is_user(const turn_plan& plan, const char* param) {
  if (plan.messages.empty() || plan.messages.back().role != "user")
    return invalid("the last message must be a user message (the prompt of the turn)", param);
  for (size_t i = 0; i + 1 < plan.messages.size(); ++i)
    if (!plan.messages[i].images_json.empty())
      return unsupported("images are accepted in the last user message only", param);
  return std::nullopt;
}

std::optional<request_error> take_model(const Value& doc, turn_plan& plan) {
  auto it = doc.FindMember("model");
  if (it == doc.MemberEnd() || !it->value.IsString() || it->value.GetStringLength() == 0)
    return invalid("'model' is required", "model", "missing_required_parameter");
  plan.model = std::string{str(it->value)};
  return check_model(plan.model);
}

std::optional<request_error> parse_body(std::string_view body, rapidjson::Document& doc) {
  if (!json::parse_untrusted_object(body, doc))
    return invalid("the body must be one JSON object", "", "invalid_json");
  return std::nullopt;
}

/// `tool_choice`: only `none` and `auto` (there are no client-side tools to choose).
std::optional<request_error> check_tool_choice(const Value& doc) {
  auto it = doc.FindMember("tool_choice");
  if (it == doc.MemberEnd() || it->value.IsNull()) return std::nullopt;
  if (it->value.IsString() && (str(it->value) == "none" || str(it->value) == "auto"))
    return std::nullopt;
  return unsupported("tool_choice must be 'none' or 'auto' (no client-side tools)", "tool_choice");
}

std::optional<request_error> chat_fields(const Value& doc, turn_plan& plan) {
  for (const auto& m : doc.GetObject()) {
    auto name = str(m.name);
    if (name == "model" || name == "messages" || name == "stream" || name == "user" ||
        name == "metadata" || name == "x_agent_events" || name == "n" || name == "logprobs" ||
        name == "top_logprobs" || name == "tools" || name == "functions" ||
        name == "function_call" || name == "response_format" || name == "modalities" ||
        name == "audio" || name == "prediction" || listed(chat_ignored, name))
      continue;
    return invalid("Unrecognized request argument supplied: " + std::string{name},
                   std::string{name}, "unknown_parameter");
  }
  if (auto it = doc.FindMember("n"); it != doc.MemberEnd() && !it->value.IsNull() &&
                                     !(it->value.IsInt() && it->value.GetInt() == 1))
    return unsupported("only n = 1 is supported: an agent turn has one answer", "n");
  if (set_member(doc, "logprobs") || set_member(doc, "top_logprobs"))
    return unsupported("logprobs are not available from an agent turn", "logprobs");
  if (set_member(doc, "tools") || set_member(doc, "functions") || set_member(doc, "function_call"))
    return unsupported(
        "client-side tools are not supported: the agent runs its own tools and cannot call "
        "back the client's",
        set_member(doc, "tools") ? "tools" : "functions");
  if (auto e = check_tool_choice(doc)) return e;
  if (auto it = doc.FindMember("response_format"); it != doc.MemberEnd() && !it->value.IsNull()) {
    const auto& rf = it->value;
    if (!rf.IsObject() || !rf.HasMember("type") || !rf["type"].IsString() ||
        str(rf["type"]) != "text")
      return unsupported("only response_format {\"type\":\"text\"} is supported",
                         "response_format");
  }
  if (set_member(doc, "audio") || set_member(doc, "prediction"))
    return unsupported("audio output and predictions are not supported",
                       set_member(doc, "audio") ? "audio" : "prediction");
  if (auto it = doc.FindMember("modalities"); it != doc.MemberEnd() && it->value.IsArray())
    for (const auto& m : it->value.GetArray())
      if (!m.IsString() || str(m) != "text")
        return unsupported("only the text modality is supported", "modalities");
  for (const char* n : {"temperature", "top_p", "max_tokens", "max_completion_tokens", "seed",
                        "presence_penalty", "frequency_penalty"})
    if (auto e = check_number(doc, n)) return e;
  return std::nullopt;
}

std::optional<request_error> chat_metadata(const Value& doc, turn_plan& plan) {
  if (auto it = doc.FindMember("user"); it != doc.MemberEnd() && !it->value.IsNull()) {
    if (!it->value.IsString() || it->value.GetStringLength() == 0 ||
        it->value.GetStringLength() > 256)
      return invalid("'user' must be a string of 1 to 256 characters", "user", "invalid_type");
    plan.user = std::string{str(it->value)};
  }
  auto it = doc.FindMember("metadata");
  if (it == doc.MemberEnd() || it->value.IsNull()) return std::nullopt;
  if (!it->value.IsObject()) return invalid("'metadata' must be an object", "metadata");
  if (auto sid = it->value.FindMember("session_id"); sid != it->value.MemberEnd()) {
    if (!sid->value.IsString() || !is_uuid(str(sid->value)))
      return invalid("metadata.session_id must be a session id (a uuid)", "metadata.session_id");
    plan.session_id = lower_case(str(sid->value));
  }
  return std::nullopt;
}

std::optional<request_error> stream_options(const Value& doc, turn_plan& plan) {
  auto it = doc.FindMember("stream_options");
  if (it == doc.MemberEnd() || it->value.IsNull()) return std::nullopt;
  if (!it->value.IsObject()) return invalid("'stream_options' must be an object", "stream_options");
  return check_bool(it->value, "include_usage", plan.include_usage);
}

std::optional<request_error> responses_fields(const Value& doc, turn_plan& plan) {
  for (const auto& m : doc.GetObject()) {
    auto name = str(m.name);
    if (name == "model" || name == "input" || name == "instructions" ||
        name == "previous_response_id" || name == "stream" || name == "background" ||
        name == "metadata" || name == "x_agent_events" || name == "tools" || name == "text" ||
        name == "top_logprobs" || name == "prompt" || name == "conversation" ||
        name == "stream_options" || listed(responses_ignored, name))
      continue;
    return invalid("Unrecognized request argument supplied: " + std::string{name},
                   std::string{name}, "unknown_parameter");
  }
  if (set_member(doc, "tools"))
    return unsupported(
        "client-side tools are not supported: the agent runs its own tools and cannot call "
        "back the client's",
        "tools");
  if (auto e = check_tool_choice(doc)) return e;
  if (set_member(doc, "top_logprobs"))
    return unsupported("logprobs are not available from an agent turn", "top_logprobs");
  if (set_member(doc, "prompt") || set_member(doc, "conversation"))
    return unsupported(
        "prompt templates and conversations are not supported; chain responses "
        "with previous_response_id",
        set_member(doc, "prompt") ? "prompt" : "conversation");
  if (auto it = doc.FindMember("text"); it != doc.MemberEnd() && it->value.IsObject()) {
    if (auto f = it->value.FindMember("format"); f != it->value.MemberEnd() && !f->value.IsNull()) {
      if (!f->value.IsObject() || !f->value.HasMember("type") || !f->value["type"].IsString() ||
          str(f->value["type"]) != "text")
        return unsupported("only text.format {\"type\":\"text\"} is supported", "text.format");
    }
  }
  for (const char* n : {"temperature", "top_p", "max_output_tokens"})
    if (auto e = check_number(doc, n)) return e;
  return std::nullopt;
}

void context_block(std::string& out, const std::vector<chat_message>& earlier) {
  if (earlier.empty()) return;
  out += "<conversation>\n";
  for (const auto& m : earlier) {
    out += "<" + m.role + ">\n";
    out += m.text;
    out += "\n</" + m.role + ">\n";
  }
  out += "</conversation>\n\n";
}

void put_string(writer& w, const char* key, std::string_view v) {
  w.Key(key);
  w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
}

}  // namespace

std::optional<request_error> check_model(std::string_view model) {
  if (model == "default" || is_model_name(model)) return std::nullopt;
  return request_error{404,
                       "The model '" + std::string{model} +
                           "' does not exist or you do not have access to it. GET /v1/models "
                           "lists the models.",
                       "invalid_request_error", "model_not_found", "model"};
}

std::variant<turn_plan, request_error> decode_chat_request(std::string_view body) {
  rapidjson::Document doc;
  turn_plan plan;
  if (auto e = parse_body(body, doc)) return *e;
  if (auto e = chat_fields(doc, plan)) return *e;
  if (auto e = take_model(doc, plan)) return *e;
  if (auto e = check_bool(doc, "stream", plan.stream)) return *e;
  if (auto e = check_bool(doc, "x_agent_events", plan.agent_events)) return *e;
  if (auto e = stream_options(doc, plan)) return *e;
  if (auto e = chat_metadata(doc, plan)) return *e;
  auto it = doc.FindMember("messages");
  if (it == doc.MemberEnd() || !it->value.IsArray() || it->value.Empty())
    return invalid("'messages' must be a non-empty list", "messages", "missing_required_parameter");
  rapidjson::SizeType i = 0;
  for (const auto& m : it->value.GetArray())
    if (auto e = take_message(m, "messages[" + std::to_string(i++) + "]", plan)) return *e;
  if (auto e = check_last_is_user(plan, "messages")) return *e;
  return plan;
}

std::variant<turn_plan, request_error> decode_responses_request(std::string_view body) {
  rapidjson::Document doc;
  turn_plan plan;
  if (auto e = parse_body(body, doc)) return *e;
  if (auto e = responses_fields(doc, plan)) return *e;
  if (auto e = take_model(doc, plan)) return *e;
  if (auto e = check_bool(doc, "stream", plan.stream)) return *e;
  if (auto e = check_bool(doc, "background", plan.background)) return *e;
  if (auto e = check_bool(doc, "x_agent_events", plan.agent_events)) return *e;
  if (auto it = doc.FindMember("instructions"); it != doc.MemberEnd() && !it->value.IsNull()) {
    if (!it->value.IsString()) return invalid("'instructions' must be a string", "instructions");
    plan.system_prompt = std::string{str(it->value)};
  }
  if (auto it = doc.FindMember("previous_response_id");
      it != doc.MemberEnd() && !it->value.IsNull()) {
    if (!it->value.IsString() || !parse_response_id(str(it->value)))
      return request_error{404, "No response found with that previous_response_id.",
                           "invalid_request_error", "previous_response_not_found",
                           "previous_response_id"};
    plan.previous_response_id = std::string{str(it->value)};
  }
  auto it = doc.FindMember("input");
  if (it == doc.MemberEnd() || it->value.IsNull())
    return invalid("'input' is required", "input", "missing_required_parameter");
  if (it->value.IsString()) {
    plan.messages.push_back({"user", std::string{str(it->value)}, {}});
  } else if (it->value.IsArray() && !it->value.Empty()) {
    rapidjson::SizeType i = 0;
    for (const auto& m : it->value.GetArray())
      if (auto e = take_message(m, "input[" + std::to_string(i++) + "]", plan)) return *e;
  } else {
    return invalid("'input' must be a string or a non-empty list of messages", "input");
  }
  if (auto e = check_last_is_user(plan, "input")) return *e;
  return plan;
}

std::size_t earlier_user_messages(const turn_plan& plan) {
  auto n = static_cast<std::size_t>(
      std::count_if(plan.messages.begin(), plan.messages.end(),
                    [](const chat_message& m) { return m.role == "user"; }));
  return n == 0 ? 0 : n - 1;
}

std::string api_turn_body(const turn_plan& plan, const std::optional<std::string>& session_id,
                          bool responses, const std::vector<std::string>& tags, bool partial) {
  const auto& last = plan.messages.back();
  std::vector<chat_message> earlier(plan.messages.begin(), plan.messages.end() - 1);
  std::string prompt;
  // A continued chat session holds the earlier messages already; a chained response's input
  // is new to the session.
  if (!session_id || responses) context_block(prompt, earlier);
  prompt += last.text;
  rapidjson::StringBuffer buf;
  writer w{buf};
  w.StartObject();
  put_string(w, "prompt", prompt);
  if (!last.images_json.empty()) {
    w.Key("images");
    w.StartArray();
    for (const auto& img : last.images_json)
      w.RawValue(img.data(), img.size(), rapidjson::kObjectType);
    w.EndArray();
  }
  if (session_id) {
    put_string(w, "session_id", *session_id);
  } else {
    // Spawn options go with a new session only: on a continued one they would replace the
    // session's stored options.
    if (plan.model != "default") put_string(w, "model", plan.model);
    if (!plan.system_prompt.empty()) {
      w.Key("system_prompt");
      w.StartObject();
      put_string(w, "preset", "claude_code");
      put_string(w, "append", plan.system_prompt);
      w.EndObject();
    }
    if (partial) {
      w.Key("include_partial_messages");
      w.Bool(true);
    }
    w.Key("metadata");
    w.StartObject();
    put_string(w, "title", responses ? "OpenAI response" : "OpenAI chat");
    w.Key("tags");
    w.StartArray();
    for (const auto& t : tags) w.String(t.data(), static_cast<rapidjson::SizeType>(t.size()));
    w.EndArray();
    w.EndObject();
  }
  w.EndObject();
  return {buf.GetString(), buf.GetSize()};
}

}  // namespace caa::api::openai
