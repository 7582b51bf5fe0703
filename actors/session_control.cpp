// Interactive control of a session (CLI-PROTOCOL.md §3): the CLI's `can_use_tool` becomes a
// `permission_request` or `question` event and waits for the client's answer (or
// PERMISSION_TIMEOUT); control responses are routed to whoever sent the request. Live mode and
// model changes are in session_live.cpp, webhook hooks are in session_hooks.cpp, checkpoints and
// rewind in session_checkpoints.cpp. Everything runs in the session actor, so an answer, an
// interrupt and a timeout of the same request are serialised by its mailbox: exactly one of
// them answers the CLI.

#include "actors/session_control_util.hpp"
#include "config/json_parse.hpp"

#include "config/errc.hpp"
#include "config/logging.hpp"
#include "transport/json/json.hpp"

#include <caf/all.hpp>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include "storage/postgres/session_queries.hpp"
#include "transport/http/error_catalog.hpp"

#include <chrono>
#include <ctime>

namespace caa::detail {

using rapidjson::Document;
using rapidjson::Value;

bool parse_object(std::string_view text, Document& doc) {
  return json::parse_untrusted_object(text, doc);
}

const Value* member(const Value& v, const char* name) {
  if (!v.IsObject()) return nullptr;
  auto it = v.FindMember(name);
  return it == v.MemberEnd() ? nullptr : &it->value;
}

std::string string_member(const Value& v, const char* name) {
  auto* m = member(v, name);
  return m != nullptr && m->IsString() ? std::string{m->GetString(), m->GetStringLength()}
                                       : std::string{};
}

/// RFC 3339 (UTC, milliseconds) of now + `d`.
void write_control(session_self self, const std::string& line) {
  auto& st = self->state;
  if (!st.proc || st.proc->write_line(std::string{line}))
    log::warn("cannot write a control line", {.component = "session", .session_id = st.who.id});
}

/// A system `message` event (API.md message type `system`) with a subtype and a text.
api_event system_message(std::string_view subtype, std::string_view text,
                         std::initializer_list<std::pair<const char*, std::string>> extra) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w{buf};
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
  return api_event{"message", buf.GetString()};
}

namespace {

using namespace std::chrono_literals;

std::string rfc3339_after(caf::timespan d) {
  auto t = std::chrono::system_clock::now() +
           std::chrono::duration_cast<std::chrono::system_clock::duration>(d);
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

/// Writes one control line to the current process (a failure is logged: the process is dying
/// and its exit ends the turn).
void allow(session_self self, const std::string& request_id, std::string_view input_json) {
  auto line = claude::can_use_tool_allow(request_id, input_json);
  if (!line) {
    write_control(self, claude::can_use_tool_deny(request_id, "The answer was not valid.", false));
    return;
  }
  write_control(self, *line);
}

void deny(session_self self, const std::string& request_id, std::string_view message) {
  write_control(self, claude::can_use_tool_deny(request_id, message, false));
}
// -- can_use_tool -------------------------------------------------------------------------------

/// The `question` event of an AskUserQuestion request; fills `p.questions`.
std::string question_event(const std::string& request_id, const Value& input,
                           const std::string& tool_use_id, const std::string& expires,
                           pending_request& p) {
  Document out(rapidjson::kObjectType);
  auto& a = out.GetAllocator();
  out.AddMember("request_id", Value(request_id.c_str(), a), a);
  Value qs(rapidjson::kArrayType);
  if (auto* list = member(input, "questions"); list != nullptr && list->IsArray()) {
    for (auto& q : list->GetArray()) {
      Value item(rapidjson::kObjectType);
      auto text = string_member(q, "question");
      p.questions.push_back(text);
      item.AddMember("question", Value(text.c_str(), a), a);
      item.AddMember("header", Value(string_member(q, "header").c_str(), a), a);
      Value options(rapidjson::kArrayType);
      if (auto* opts = member(q, "options"); opts != nullptr && opts->IsArray())
        for (auto& o : opts->GetArray()) {
          Value opt(rapidjson::kObjectType);
          opt.AddMember("label", Value(string_member(o, "label").c_str(), a), a);
          opt.AddMember("description", Value(string_member(o, "description").c_str(), a), a);
          options.PushBack(opt, a);
        }
      item.AddMember("options", options, a);
      auto* multi = member(q, "multiSelect");
      item.AddMember("multi_select", multi != nullptr && multi->IsBool() && multi->GetBool(), a);
      qs.PushBack(item, a);
    }
  }
  out.AddMember("questions", qs, a);
  out.AddMember("tool_use_id", Value(tool_use_id.c_str(), a), a);
  out.AddMember("expires_at", Value(expires.c_str(), a), a);
  return json::to_string(out);
}

/// `path` relative to `root` ("." for the root itself); empty when it lies outside.
std::string relative_to(const std::string& root, const std::string& path) {
  if (root.empty() || path.rfind(root, 0) != 0) return {};
  if (path.size() == root.size()) return ".";
  return path[root.size()] == '/' ? path.substr(root.size() + 1) : std::string{};
}

/// The CLI's permission suggestions without server paths: directories become relative to the
/// tenant workspace, suggestions naming a directory outside it are dropped.
Value client_suggestions(const Value& in, const std::string& root,
                         rapidjson::Document::AllocatorType& a) {
  Value out(rapidjson::kArrayType);
  if (!in.IsArray()) return out;
  for (auto& s : in.GetArray()) {
    Value copy(s, a);
    bool keep = true;
    if (auto* dirs = member(s, "directories"); dirs != nullptr && dirs->IsArray()) {
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

/// The `permission_request` event of a tool call.
std::string permission_event(const std::string& request_id, const Value& req,
                             const std::string& expires, const std::string& root) {
  Document out(rapidjson::kObjectType);
  auto& a = out.GetAllocator();
  out.AddMember("request_id", Value(request_id.c_str(), a), a);
  out.AddMember("tool_name", Value(string_member(req, "tool_name").c_str(), a), a);
  Value input(rapidjson::kObjectType);
  if (auto* in = member(req, "input"); in != nullptr && in->IsObject()) input.CopyFrom(*in, a);
  out.AddMember("input", input, a);
  out.AddMember("tool_use_id", Value(string_member(req, "tool_use_id").c_str(), a), a);
  Value none(rapidjson::kArrayType);
  auto* s = member(req, "permission_suggestions");
  out.AddMember("suggestions", client_suggestions(s != nullptr ? *s : none, root, a), a);
  out.AddMember("expires_at", Value(expires.c_str(), a), a);
  return json::to_string(out);
}

void on_can_use_tool(session_self self, const std::string& request_id, const Value& req) {
  auto& st = self->state;
  if (!st.in_turn) {
    deny(self, request_id, "No client is waiting for this session.");
    return;
  }
  if (st.pending.count(request_id) > 0) {
    deny(self, request_id, "This request is already pending.");
    return;
  }
  if (st.pending.size() >= max_pending_requests) {
    deny(self, request_id, "Too many permission requests are pending.");
    return;
  }
  pending_request p;
  auto* input = member(req, "input");
  p.input_json = input != nullptr && input->IsObject() ? json::to_string(*input) : "{}";
  p.token = ++st.pending_tokens;
  p.tool_name = string_member(req, "tool_name");
  auto expires = rfc3339_after(st.deps.permission_timeout);
  if (p.tool_name == "AskUserQuestion" && input != nullptr && member(*input, "questions")) {
    p.question = true;
    auto data = question_event(request_id, *input, string_member(req, "tool_use_id"), expires, p);
    emit(self, api_event{"question", std::move(data)});
  } else {
    emit(self,
         api_event{"permission_request", permission_event(request_id, req, expires, st.work_root)});
  }
  self->delayed_send(self, st.deps.permission_timeout, atom::timeout_v,
                     int32_t{permission_deadline}, p.token);
  st.pending.emplace(request_id, std::move(p));
}

}  // namespace

// -- CLI requests and replies -------------------------------------------------------------------

void on_cli_request(session_self self, const claude::cli_message& msg) {
  Document doc;
  if (msg.request_id.empty() || !parse_object(msg.raw, doc)) return;
  auto* req = member(doc, "request");
  if (req == nullptr || !req->IsObject()) return;
  if (msg.subtype == "can_use_tool")
    on_can_use_tool(self, msg.request_id, *req);
  else if (msg.subtype == "hook_callback")
    on_hook_callback(self, msg.request_id, *req);
  else
    write_control(self, claude::control_error(msg.request_id, "not supported by this service"));
}

void on_cli_control_reply(session_self self, const claude::cli_message& msg) {
  auto& st = self->state;
  if (msg.kind == claude::message_kind::control_cancel) {
    st.pending.erase(msg.request_id);  // interrupt: the CLI withdrew its question
    return;
  }
  auto it = st.awaiting.find(msg.request_id);
  if (it == st.awaiting.end()) return;
  auto reply = std::move(it->second);
  st.awaiting.erase(it);
  if (msg.subtype != "success") {
    reply(false, msg.error);
    return;
  }
  Document doc;
  std::string payload = "{}";
  if (parse_object(msg.raw, doc))
    if (auto* r = member(doc, "response"); r != nullptr)
      if (auto* p = member(*r, "response"); p != nullptr && p->IsObject())
        payload = json::to_string(*p);
  reply(true, std::move(payload));
}

void send_control(session_self self, std::string request_id, std::string line,
                  control_reply_fn reply) {
  auto& st = self->state;
  if (!st.proc || st.proc->write_line(std::move(line))) {
    reply(false, "the agent process is not running");
    return;
  }
  st.awaiting.emplace(std::move(request_id), std::move(reply));
}
// -- answers and timeouts -----------------------------------------------------------------------

caf::result<bool> on_answer(session_self self, pending_answer a) {
  auto& st = self->state;
  auto it = st.pending.end();
  if (a.request_id.empty()) {
    // `{"answer":"text"}`: the one pending question.
    for (auto i = st.pending.begin(); i != st.pending.end(); ++i)
      if (i->second.question) {
        if (it != st.pending.end())
          return http::validation_error({{"request_id", "several questions are pending"}});
        it = i;
      }
  } else {
    it = st.pending.find(a.request_id);
  }
  if (it == st.pending.end()) return make_error(errc::session_idle, "no such pending request");
  const auto& p = it->second;
  auto request_id = it->first;
  if (a.behavior == "deny") {
    deny(self, request_id, a.message.value_or("The user denied this tool call."));
    st.pending.erase(it);
    return true;
  }
  if (p.question) {
    Document input;
    if (!parse_object(p.input_json, input)) input.SetObject();
    auto& al = input.GetAllocator();
    Value answers(rapidjson::kObjectType);
    if (a.answers) {
      Document given;
      if (!parse_object(*a.answers, given))
        return http::validation_error({{"answers", "must be an object"}});
      for (auto& m : given.GetObject()) {
        std::string label;
        if (m.value.IsString()) {
          label = m.value.GetString();
        } else if (m.value.IsArray()) {  // multi-select: labels joined as the SDKs do
          for (auto& l : m.value.GetArray())
            if (l.IsString()) label += (label.empty() ? "" : ", ") + std::string{l.GetString()};
        } else {
          return http::validation_error({{"answers", "values must be labels (strings)"}});
        }
        answers.AddMember(Value(m.name, al), Value(label.c_str(), al), al);
      }
    } else if (a.answer) {
      if (p.questions.size() != 1)
        return http::validation_error(
            {{"answer", "only answers a request with exactly one question; use answers"}});
      answers.AddMember(Value(p.questions.front().c_str(), al), Value(a.answer->c_str(), al), al);
    } else if (a.updated_input) {
      allow(self, request_id, *a.updated_input);
      st.pending.erase(it);
      return true;
    } else {
      return http::validation_error({{"answers", "is required to answer a question"}});
    }
    input.RemoveMember("answers");
    input.AddMember("answers", answers, al);
    allow(self, request_id, json::to_string(input));
    st.pending.erase(it);
    return true;
  }
  if (a.behavior != "allow") return http::validation_error({{"behavior", "must be allow or deny"}});
  allow(self, request_id, a.updated_input.value_or(p.input_json));
  st.pending.erase(it);
  return true;
}

void on_permission_timeout(session_self self, uint64_t token) {
  auto& st = self->state;
  for (auto it = st.pending.begin(); it != st.pending.end(); ++it) {
    if (it->second.token != token) continue;
    auto id = it->first;
    auto tool = it->second.tool_name;
    st.pending.erase(it);
    deny(self, id, "No answer came within the permission timeout: the call is denied.");
    if (st.in_turn)
      emit(self, system_message("permission_timeout",
                                "No answer came for " + tool +
                                    " within the permission timeout; it was denied.",
                                {{"request_id", id}, {"tool_name", tool}}));
    return;
  }
}

}  // namespace caa::detail
