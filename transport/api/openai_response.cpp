// The Responses API events and object of one turn (`response_builder`).

#include "transport/api/openai_json.hpp"
#include "transport/api/openai_render.hpp"

#include <utility>

namespace caa::api::openai {

using namespace detail;  // NOLINT(google-build-using-namespace): this file's own helpers

// -- responses ----------------------------------------------------------------------------------

response_builder::response_builder(response_meta meta, bool agent_events)
    : meta_(std::move(meta)), reader_(agent_events) {}

std::string_view response_builder::status(bool queued) const {
  if (!reader_.done()) return queued ? "queued" : "in_progress";
  if (reader_.done_reason() == "interrupted") return "cancelled";
  if (reader_.done_reason() != "completed") return "failed";
  return reader_.finish_reason() == "length" ? "incomplete" : "completed";
}

std::string response_builder::item_json(bool done, bool with_text) const {
  rapidjson::StringBuffer buf;
  writer w{buf};
  w.StartObject();
  put(w, "id", "msg_" + meta_.id.substr(5));
  put(w, "type", "message");
  put(w, "status", done ? "completed" : "in_progress");
  put(w, "role", "assistant");
  w.Key("content");
  w.StartArray();
  if (with_text) {
    w.StartObject();
    put(w, "type", "output_text");
    put(w, "text", reader_.text());
    w.Key("annotations");
    w.StartArray();
    w.EndArray();
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return finish(buf);
}

std::string response_builder::object(bool queued) const {
  auto st = status(queued);
  rapidjson::StringBuffer buf;
  writer w{buf};
  w.StartObject();
  put(w, "id", meta_.id);
  put(w, "object", "response");
  w.Key("created_at");
  w.Int64(meta_.created_at);
  put(w, "status", st);
  w.Key("background");
  w.Bool(meta_.background);
  w.Key("error");
  if (st == "failed") {
    w.StartObject();
    put(w, "code", lower(reader_.error_code().empty() ? "AGENT_ERROR" : reader_.error_code()));
    put(w, "message",
        reader_.error_message().empty() ? "The agent turn failed." : reader_.error_message());
    w.EndObject();
  } else {
    w.Null();
  }
  w.Key("incomplete_details");
  if (st == "incomplete") {
    w.StartObject();
    put(w, "reason", "max_output_tokens");
    w.EndObject();
  } else {
    w.Null();
  }
  w.Key("instructions");
  if (meta_.instructions.empty())
    w.Null();
  else
    w.String(meta_.instructions.data(),
             static_cast<rapidjson::SizeType>(meta_.instructions.size()));
  w.Key("max_output_tokens");
  w.Null();
  put(w, "model", meta_.model.empty() || meta_.model == "default" ? reader_.model() : meta_.model);
  w.Key("output");
  w.StartArray();
  if (item_open_ || item_done_) {
    auto item = item_json(item_done_, true);
    w.RawValue(item.data(), item.size(), rapidjson::kObjectType);
  }
  w.EndArray();
  put(w, "output_text", reader_.text());
  w.Key("parallel_tool_calls");
  w.Bool(false);
  w.Key("previous_response_id");
  if (meta_.previous_response_id)
    w.String(meta_.previous_response_id->data(),
             static_cast<rapidjson::SizeType>(meta_.previous_response_id->size()));
  else
    w.Null();
  w.Key("metadata");
  w.StartObject();
  w.EndObject();
  w.Key("temperature");
  w.Null();
  w.Key("top_p");
  w.Null();
  w.Key("text");
  w.StartObject();
  w.Key("format");
  w.StartObject();
  put(w, "type", "text");
  w.EndObject();
  w.EndObject();
  put(w, "tool_choice", "auto");
  w.Key("tools");
  w.StartArray();
  w.EndArray();
  put(w, "truncation", "disabled");
  w.Key("usage");
  if (reader_.has_result()) {
    w.StartObject();
    w.Key("input_tokens");
    w.Uint64(reader_.input_tokens);
    w.Key("input_tokens_details");
    w.StartObject();
    w.Key("cached_tokens");
    w.Uint64(reader_.cached_tokens);
    w.EndObject();
    w.Key("output_tokens");
    w.Uint64(reader_.output_tokens);
    w.Key("output_tokens_details");
    w.StartObject();
    w.Key("reasoning_tokens");
    w.Uint64(0);
    w.EndObject();
    w.Key("total_tokens");
    w.Uint64(reader_.input_tokens + reader_.output_tokens);
    w.EndObject();
  } else {
    w.Null();
  }
  w.Key("user");
  w.Null();
  put(w, "x_session_id", meta_.session_id);
  w.Key("x_cost_usd");
  w.Double(reader_.cost_usd);
  w.EndObject();
  return finish(buf);
}

void response_builder::push(std::vector<event>& out, std::string type, const std::string& members) {
  std::string json = R"({"type":")";
  json += type;
  json += R"(","sequence_number":)";
  json += std::to_string(next_seq_);
  if (!members.empty()) {
    json += ',';
    json += members;
  }
  json += '}';
  out.push_back({std::move(type), std::move(json), next_seq_++});
}

namespace {

/// `"item_id":"msg_..","output_index":0,"content_index":0` and more members.
std::string part_members(const std::string& item_id) {
  return R"("item_id":")" + item_id + R"(","output_index":0,"content_index":0)";
}

std::string text_part(std::string_view text) {
  rapidjson::StringBuffer buf;
  writer w{buf};
  w.StartObject();
  put(w, "type", "output_text");
  put(w, "text", text);
  w.Key("annotations");
  w.StartArray();
  w.EndArray();
  w.EndObject();
  return finish(buf);
}

std::string string_json(std::string_view s) {
  rapidjson::StringBuffer buf;
  writer w{buf};
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  return finish(buf);
}

}  // namespace

void response_builder::open_item(std::vector<event>& out) {
  if (item_open_ || item_done_) return;
  item_open_ = true;
  auto item = item_json(false, false);
  push(out, "response.output_item.added", R"("output_index":0,"item":)" + item);
  auto id = "msg_" + meta_.id.substr(5);
  push(out, "response.content_part.added", part_members(id) + R"(,"part":)" + text_part(""));
}

void response_builder::close_item(std::vector<event>& out) {
  if (item_done_) return;
  open_item(out);
  auto id = "msg_" + meta_.id.substr(5);
  push(out, "response.output_text.done",
       part_members(id) + R"(,"text":)" + string_json(reader_.text()) + R"(,"logprobs":[])");
  push(out, "response.content_part.done",
       part_members(id) + R"(,"part":)" + text_part(reader_.text()));
  item_open_ = false;
  item_done_ = true;
  push(out, "response.output_item.done", R"("output_index":0,"item":)" + item_json(true, true));
}

void response_builder::start(bool queued, std::vector<event>& out) {
  push(out, "response.created", R"("response":)" + object(queued));
  push(out, "response.in_progress", R"("response":)" + object(false));
}

void response_builder::feed(std::string_view name, std::string_view data, std::vector<event>& out) {
  if (reader_.done()) return;
  std::vector<turn_reader::piece> pieces;
  reader_.feed(name, data, pieces);
  auto id = "msg_" + meta_.id.substr(5);
  for (auto& p : pieces) {
    if (p.kind == turn_reader::piece::agent_event) {
      push(out, "response.x_agent_event", R"("event":)" + p.body);
      continue;
    }
    open_item(out);
    push(out, "response.output_text.delta",
         part_members(id) + R"(,"delta":)" + string_json(p.body) + R"(,"logprobs":[])");
  }
  if (!reader_.done()) return;
  if (item_open_ || reader_.done_reason() == "completed") close_item(out);
  auto st = status();
  const char* type = st == "completed" ? "response.completed"
                     : st == "failed"  ? "response.failed"
                                       : "response.incomplete";
  push(out, type, R"("response":)" + object());
}

}  // namespace caa::api::openai
