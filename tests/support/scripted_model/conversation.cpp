#include "conversation.hpp"

#include "directive.hpp"
#include "json.hpp"

#include <algorithm>

namespace scripted_model {

namespace {

constexpr std::string_view reminder_tag = "<system-reminder>";

bool is_reminder(std::string_view text) {
  return trim(text).rfind(reminder_tag, 0) == 0;
}

bool has_block_of_type(const rapidjson::Value& content, std::string_view type) {
  return std::any_of(content.Begin(), content.End(), [&](const rapidjson::Value& b) {
    return json::get_string(b, "type") == type;
  });
}

/// Text blocks of `content` (a string or an array of blocks) joined with newlines; reminders
/// are skipped when `skip_reminders`.
std::string joined_text(const rapidjson::Value& content, bool skip_reminders) {
  if (content.IsString()) return {content.GetString(), content.GetStringLength()};
  std::string out;
  if (!content.IsArray()) return out;
  for (const auto& block : content.GetArray()) {
    if (json::get_string(block, "type") != "text") continue;
    const auto text = json::get_string(block, "text");
    if (skip_reminders && is_reminder(text)) continue;
    if (!out.empty()) out += '\n';
    out += text;
  }
  return out;
}

void collect_results(const rapidjson::Value& message, std::size_t step,
                     std::vector<tool_result>& out) {
  const auto* content = json::find(message, "content");
  if (content == nullptr || !content->IsArray()) return;
  for (const auto& block : content->GetArray()) {
    if (json::get_string(block, "type") != "tool_result") continue;
    tool_result r;
    r.step = step;
    r.tool_use_id = json::get_string(block, "tool_use_id");
    if (const auto* c = json::find(block, "content")) r.content = joined_text(*c, false);
    if (const auto* e = json::find(block, "is_error"); e != nullptr && e->IsBool())
      r.is_error = e->GetBool();
    out.push_back(std::move(r));
  }
}

void read_header_fields(const rapidjson::Value& body, conversation& c) {
  c.model = json::get_string(body, "model", "claude-scripted");
  if (const auto* s = json::find(body, "stream"); s != nullptr && s->IsBool())
    c.stream = s->GetBool();
  if (const auto* m = json::find(body, "max_tokens"); m != nullptr && m->IsInt64())
    c.max_tokens = static_cast<long>(m->GetInt64());
  const auto* tools = json::find(body, "tools");
  c.has_tools_field = tools != nullptr;
  if (tools != nullptr && tools->IsArray())
    for (const auto& t : tools->GetArray()) c.tools.emplace_back(json::get_string(t, "name"));
  if (const auto* sys = json::find(body, "system")) c.system_text = joined_text(*sys, false);
  c.cwd = find_working_directory(c.system_text);
}

}  // namespace

bool conversation::offers(std::string_view name) const {
  return std::find(tools.begin(), tools.end(), name) != tools.end();
}

std::string conversation::latest_results() const {
  std::string out;
  for (const auto& r : results) {
    if (step == 0 || r.step != step - 1) continue;
    if (!out.empty()) out += '\n';
    out += r.content;
  }
  return out;
}

bool is_prompt(const rapidjson::Value& message) {
  if (json::get_string(message, "role") != "user") return false;
  const auto* content = json::find(message, "content");
  if (content == nullptr) return false;
  if (content->IsString()) return !is_reminder({content->GetString(), content->GetStringLength()});
  if (!content->IsArray() || has_block_of_type(*content, "tool_result")) return false;
  return !joined_text(*content, true).empty() || has_block_of_type(*content, "image");
}

std::optional<conversation> analyse(const rapidjson::Value& body) {
  const auto* messages = json::find(body, "messages");
  if (messages == nullptr || !messages->IsArray()) return std::nullopt;
  conversation c;
  read_header_fields(body, c);
  const auto& list = messages->GetArray();
  std::size_t first = 0;  // index just after the latest prompt
  for (std::size_t i = list.Size(); i > 0; --i) {
    if (is_prompt(list[i - 1])) {
      c.prompt = joined_text(*json::find(list[i - 1], "content"), true);
      first = i;
      break;
    }
  }
  for (std::size_t i = first; i < list.Size(); ++i) {
    const auto role = json::get_string(list[i], "role");
    if (role == "assistant")
      ++c.step;
    else if (role == "user")
      collect_results(list[i], c.step == 0 ? 0 : c.step - 1, c.results);
  }
  return c;
}

std::optional<std::string> find_working_directory(std::string_view system_text) {
  for (std::string_view label : {"Primary working directory: ", "Working directory: "}) {
    const auto at = system_text.find(label);
    if (at == std::string_view::npos) continue;
    auto rest = system_text.substr(at + label.size());
    const auto eol = rest.find_first_of("\r\n");
    auto dir = trim(rest.substr(0, eol));
    if (!dir.empty() && dir.front() == '/') return dir;
  }
  return std::nullopt;
}

bool is_side_request(const conversation& c) {
  return c.max_tokens == 1 || !c.has_tools_field;
}

}  // namespace scripted_model
