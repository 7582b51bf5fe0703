#include "transport/json/api_events.hpp"

#include "transport/json/json.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdio>
#include <ctime>

namespace caa {

namespace {

using rapidjson::Document;
using rapidjson::Value;
using writer = rapidjson::Writer<rapidjson::StringBuffer>;

std::string finish(rapidjson::StringBuffer& buf) {
  return {buf.GetString(), buf.GetSize()};
}

/// `path` relative to `root` ("." for the root itself); empty when it lies outside.
std::string relative_to(const std::string& root, const std::string& path) {
  if (root.empty() || path.rfind(root, 0) != 0) return {};
  if (path.size() == root.size()) return ".";
  return path[root.size()] == '/' ? path.substr(root.size() + 1) : std::string{};
}

/// The CLI's permission suggestions without server paths: directories become relative to the
/// tenant workspace, suggestions naming a directory outside it are dropped.
Value client_suggestions(const Value& in, const std::string& root, Document::AllocatorType& a) {
  Value out(rapidjson::kArrayType);
  if (!in.IsArray()) return out;
  for (auto& s : in.GetArray()) {
    Value copy(s, a);
    bool keep = true;
    if (auto* dirs = json::member(s, "directories"); dirs != nullptr && dirs->IsArray()) {
      Value rel(rapidjson::kArrayType);
      for (auto& d : dirs->GetArray()) {
        auto r = d.IsString() ? relative_to(root, d.GetString()) : std::string{};
        keep = keep && !r.empty();
        rel.PushBack(Value(r.c_str(), a), a);
      }
      copy["directories"] = rel;
    }
    if (keep) out.PushBack(copy, a);
  }
  return out;
}

/// The question list of an AskUserQuestion input as the API shows it; appends the question
/// texts to `questions`.
Value client_questions(const Value& input, std::vector<std::string>& questions,
                       Document::AllocatorType& a) {
  Value qs(rapidjson::kArrayType);
  auto* list = json::member(input, "questions");
  if (list == nullptr || !list->IsArray()) return qs;
  for (auto& q : list->GetArray()) {
    Value item(rapidjson::kObjectType);
    auto text = json::string_member(q, "question");
    questions.push_back(text);
    item.AddMember("question", Value(text.c_str(), a), a);
    item.AddMember("header", Value(json::string_member(q, "header").c_str(), a), a);
    Value options(rapidjson::kArrayType);
    if (auto* opts = json::member(q, "options"); opts != nullptr && opts->IsArray())
      for (auto& o : opts->GetArray()) {
        Value opt(rapidjson::kObjectType);
        opt.AddMember("label", Value(json::string_member(o, "label").c_str(), a), a);
        opt.AddMember("description", Value(json::string_member(o, "description").c_str(), a), a);
        options.PushBack(opt, a);
      }
    item.AddMember("options", options, a);
    auto* multi = json::member(q, "multiSelect");
    item.AddMember("multi_select", multi != nullptr && multi->IsBool() && multi->GetBool(), a);
    qs.PushBack(item, a);
  }
  return qs;
}

}  // namespace

api_event done_event(std::string_view reason) {
  return {"done", std::string{R"({"reason":")"} + std::string{reason} + "\"}"};
}

std::string gap_event_data(uint64_t from, uint64_t to) {
  return R"({"from":)" + std::to_string(from) + R"(,"to":)" + std::to_string(to) +
         R"(,"reason":"not_stored"})";
}

api_event budget_reached_event(std::string_view cap, double limit_usd, double spent_usd,
                               std::string_view resets_at) {
  rapidjson::StringBuffer buf;
  writer w{buf};
  w.StartObject();
  w.Key("cap");
  w.String(cap.data(), static_cast<rapidjson::SizeType>(cap.size()));
  w.Key("limit_usd");
  w.Double(limit_usd);
  w.Key("spent_usd");
  w.Double(spent_usd);
  w.Key("resets_at");
  w.String(resets_at.data(), static_cast<rapidjson::SizeType>(resets_at.size()));
  w.EndObject();
  return {"budget_reached", finish(buf)};
}

api_event error_event(std::string_view code, std::string_view message) {
  rapidjson::StringBuffer buf;
  writer w{buf};
  w.StartObject();
  w.Key("code");
  w.String(code.data(), static_cast<rapidjson::SizeType>(code.size()));
  w.Key("message");
  w.String(message.data(), static_cast<rapidjson::SizeType>(message.size()));
  w.EndObject();
  return {"error", finish(buf)};
}

api_event system_message(std::string_view subtype, std::string_view text,
                         std::initializer_list<std::pair<const char*, std::string>> extra) {
  rapidjson::StringBuffer buf;
  writer w{buf};
  w.StartObject();
  w.Key("type");
  w.String("system");
  w.Key("subtype");
  w.String(subtype.data(), static_cast<rapidjson::SizeType>(subtype.size()));
  for (auto& [k, v] : extra) {
    w.Key(k);
    w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
  }
  w.Key("content");
  w.StartArray();
  w.StartObject();
  w.Key("type");
  w.String("text");
  w.Key("text");
  w.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
  w.EndObject();
  w.EndArray();
  w.EndObject();
  return {"message", buf.GetString()};
}

api_event permission_event(const std::string& request_id, const Value& req,
                           const std::string& expires_at, const std::string& work_root) {
  Document out(rapidjson::kObjectType);
  auto& a = out.GetAllocator();
  out.AddMember("request_id", Value(request_id.c_str(), a), a);
  out.AddMember("tool_name", Value(json::string_member(req, "tool_name").c_str(), a), a);
  Value input(rapidjson::kObjectType);
  if (auto* in = json::member(req, "input"); in != nullptr && in->IsObject())
    input.CopyFrom(*in, a);
  out.AddMember("input", input, a);
  out.AddMember("tool_use_id", Value(json::string_member(req, "tool_use_id").c_str(), a), a);
  Value none(rapidjson::kArrayType);
  auto* s = json::member(req, "permission_suggestions");
  out.AddMember("suggestions", client_suggestions(s != nullptr ? *s : none, work_root, a), a);
  out.AddMember("expires_at", Value(expires_at.c_str(), a), a);
  return {"permission_request", json::to_string(out)};
}

api_event question_event(const std::string& request_id, const Value& input,
                         const std::string& tool_use_id, const std::string& expires_at,
                         std::vector<std::string>& questions) {
  Document out(rapidjson::kObjectType);
  auto& a = out.GetAllocator();
  out.AddMember("request_id", Value(request_id.c_str(), a), a);
  out.AddMember("questions", client_questions(input, questions, a), a);
  out.AddMember("tool_use_id", Value(tool_use_id.c_str(), a), a);
  out.AddMember("expires_at", Value(expires_at.c_str(), a), a);
  return {"question", json::to_string(out)};
}

std::string rfc3339(std::chrono::system_clock::time_point t) {
  auto secs = std::chrono::system_clock::to_time_t(t);
  auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  return buf;
}

std::string rfc3339_after(caf::timespan d) {
  return rfc3339(std::chrono::system_clock::now() +
                 std::chrono::duration_cast<std::chrono::system_clock::duration>(d));
}

}  // namespace caa
