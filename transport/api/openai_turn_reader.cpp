// What a turn's API events amount to for an OpenAI client (`turn_reader`).

#include "transport/api/openai_json.hpp"
#include "transport/api/openai_render.hpp"

#include "config/json_parse.hpp"

#include <utility>

namespace caa::api::openai {

using namespace detail;  // NOLINT(google-build-using-namespace): this file's own helpers

// -- turn_reader --------------------------------------------------------------------------------

void turn_reader::emit_text(std::string_view text, bool new_block, std::vector<piece>& out) {
  if (new_block) need_sep_ = !text_.empty();
  if (text.empty()) return;
  std::string body;
  if (need_sep_) body = "\n\n";
  need_sep_ = false;
  body += text;
  text_ += body;
  out.push_back({piece::text, std::move(body)});
}

void turn_reader::on_partial(std::string_view data, std::vector<piece>& out) {
  rapidjson::Document doc;
  if (!json::parse_untrusted_object(data, doc) || !is_main_agent(doc)) return;
  auto ev = doc.FindMember("event");
  if (ev == doc.MemberEnd() || !ev->value.IsObject()) return;
  const auto& e = ev->value;
  auto type = str_member(e, "type");
  if (type == "message_start" && e.HasMember("message")) {
    if (auto m = str_member(e["message"], "model"); !m.empty()) model_ = std::string{m};
  } else if (type == "content_block_start" && e.HasMember("content_block")) {
    const auto& block = e["content_block"];
    if (str_member(block, "type") != "text") return;
    ++streamed_blocks_;
    emit_text(str_member(block, "text"), true, out);
  } else if (type == "content_block_delta" && e.HasMember("delta")) {
    const auto& delta = e["delta"];
    if (str_member(delta, "type") == "text_delta" && streamed_blocks_ > 0)
      emit_text(str_member(delta, "text"), false, out);
  }
}

void turn_reader::on_message(std::string_view data, std::vector<piece>& out) {
  rapidjson::Document doc;
  if (!json::parse_untrusted_object(data, doc)) return;
  bool main_assistant = str_member(doc, "type") == "assistant" && is_main_agent(doc);
  bool only_text = main_assistant;
  if (main_assistant) {
    if (auto m = str_member(doc, "model"); !m.empty()) model_ = std::string{m};
    auto content = doc.FindMember("content");
    if (content != doc.MemberEnd() && content->value.IsArray()) {
      for (const auto& block : content->value.GetArray()) {
        auto type = str_member(block, "type");
        if (type == "text") {
          if (streamed_blocks_ > 0) {
            --streamed_blocks_;  // its deltas were sent
            continue;
          }
          emit_text(str_member(block, "text"), true, out);
        } else if (type == "tool_use") {
          only_text = false;
          if (agent_events_) continue;
          std::string line = "[tool: ";
          line += str_member(block, "name");
          if (block.HasMember("input")) {
            line += ' ';
            line += to_json(block["input"]);
          }
          line += ']';
          emit_text(line, true, out);
        } else if (type != "thinking" && type != "redacted_thinking") {
          only_text = false;
        }
      }
    }
  }
  if (agent_events_ && !only_text) out.push_back({piece::agent_event, side_event("message", data)});
}

void turn_reader::on_result(std::string_view data, std::vector<piece>& out) {
  rapidjson::Document doc;
  if (!json::parse_untrusted_object(data, doc)) return;
  has_result_ = true;
  subtype_ = std::string{str_member(doc, "subtype")};
  stop_reason_ = std::string{str_member(doc, "stop_reason")};
  if (auto it = doc.FindMember("total_cost_usd"); it != doc.MemberEnd() && it->value.IsNumber())
    cost_usd = it->value.GetDouble();
  if (auto it = doc.FindMember("usage"); it != doc.MemberEnd() && it->value.IsObject()) {
    const auto& u = it->value;
    cached_tokens = uint_member(u, "cache_read_input_tokens");
    input_tokens = uint_member(u, "input_tokens") + cached_tokens +
                   uint_member(u, "cache_creation_input_tokens");
    output_tokens = uint_member(u, "output_tokens");
  }
  // A turn without assistant text (e.g. a slash command) answers with the result's text.
  if (text_.empty()) emit_text(str_member(doc, "result"), true, out);
}

void turn_reader::feed(std::string_view name, std::string_view data, std::vector<piece>& out) {
  if (done_) return;
  if (name == "partial") return on_partial(data, out);
  if (name == "message") return on_message(data, out);
  if (name == "result") return on_result(data, out);
  if (name == "done") {
    rapidjson::Document doc;
    if (json::parse_untrusted_object(data, doc))
      done_reason_ = std::string{str_member(doc, "reason")};
    if (done_reason_.empty()) done_reason_ = "error";
    done_ = true;
    return;
  }
  if (name == "init" || name == "error") {
    rapidjson::Document doc;
    if (json::parse_untrusted_object(data, doc)) {
      if (name == "init") {
        if (auto m = str_member(doc, "model"); !m.empty()) model_ = std::string{m};
      } else {
        error_code_ = std::string{str_member(doc, "code")};
        error_message_ = std::string{str_member(doc, "message")};
      }
    }
  }
  if (agent_events_ && name != "gap") out.push_back({piece::agent_event, side_event(name, data)});
}

std::string_view turn_reader::finish_reason() const noexcept {
  if (subtype_ == "error_max_turns" || subtype_ == "error_max_budget_usd" ||
      stop_reason_ == "max_tokens")
    return "length";
  return "stop";
}

}  // namespace caa::api::openai
