// Interactive control of a session (CLI-PROTOCOL.md §3, §4, §7): the CLI's own requests
// (`can_use_tool` becomes a `permission_request` or `question` event and waits for the client;
// `hook_callback` is POSTed to the tenant's webhook through the outbound client), the client's
// answers, live permission-mode and model changes, and file checkpoints and rewind. Everything
// runs in the session actor, so an answer, an interrupt and a timeout of the same request are
// serialised by its mailbox: exactly one of them answers the CLI.

#include "actors/session_impl.hpp"

#include "actors/cli_start.hpp"

#include "config/errc.hpp"
#include "config/logging.hpp"
#include "config/metrics_catalog.hpp"
#include "storage/postgres/checkpoint_queries.hpp"
#include "storage/postgres/session_queries.hpp"
#include "transport/http/error_catalog.hpp"
#include "transport/json/json.hpp"
#include "transport/outbound/client.hpp"

#include <caf/all.hpp>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <chrono>
#include <ctime>

namespace caa::detail {

namespace {

using namespace std::chrono_literals;
using rapidjson::Document;
using rapidjson::Value;

/// The deadline kind of a pending request (see session.cpp).
constexpr int32_t permission_deadline = 4;

/// Tools whose calls change files (the files of a checkpoint).
constexpr std::string_view edit_tools[] = {"Write", "Edit", "MultiEdit", "NotebookEdit"};

bool parse_object(std::string_view text, Document& doc) {
  doc.Parse(text.data(), text.size());
  return !doc.HasParseError() && doc.IsObject();
}

const Value* member(const Value& v, const char* name) {
  if (!v.IsObject())
    return nullptr;
  auto it = v.FindMember(name);
  return it == v.MemberEnd() ? nullptr : &it->value;
}

std::string string_member(const Value& v, const char* name) {
  auto* m = member(v, name);
  return m != nullptr && m->IsString() ? std::string{m->GetString(), m->GetStringLength()}
                                       : std::string{};
}

/// RFC 3339 (UTC, milliseconds) of now + `d`.
std::string rfc3339_after(caf::timespan d) {
  auto t = std::chrono::system_clock::now() + std::chrono::duration_cast<std::chrono::system_clock::duration>(d);
  auto secs = std::chrono::system_clock::to_time_t(t);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  return buf;
}

/// Writes one control line to the current process (a failure is logged: the process is dying
/// and its exit ends the turn).
void write_control(session_self self, const std::string& line) {
  auto& st = self->state;
  if (!st.proc || st.proc->write_line(std::string{line}))
    log::warn("cannot write a control line", {.component = "session", .session_id = st.who.id});
}

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

/// A system `message` event (API.md message type `system`) with a subtype and a text.
api_event system_message(std::string_view subtype, std::string_view text,
                         std::initializer_list<std::pair<const char*, std::string>> extra = {}) {
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
  if (root.empty() || path.rfind(root, 0) != 0)
    return {};
  if (path.size() == root.size())
    return ".";
  return path[root.size()] == '/' ? path.substr(root.size() + 1) : std::string{};
}

/// The CLI's permission suggestions without server paths: directories become relative to the
/// tenant workspace, suggestions naming a directory outside it are dropped.
Value client_suggestions(const Value& in, const std::string& root,
                         rapidjson::Document::AllocatorType& a) {
  Value out(rapidjson::kArrayType);
  if (!in.IsArray())
    return out;
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
    if (keep)
      out.PushBack(copy, a);
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
  if (auto* in = member(req, "input"); in != nullptr && in->IsObject())
    input.CopyFrom(*in, a);
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
    emit(self, api_event{"permission_request",
                         permission_event(request_id, req, expires, st.work_root)});
  }
  self->delayed_send(self, st.deps.permission_timeout, atom::timeout_v,
                     int32_t{permission_deadline}, p.token);
  st.pending.emplace(request_id, std::move(p));
}

// -- hook callbacks ---------------------------------------------------------------------------

/// The webhook body: the CLI's hook input without server paths, plus `hook_event` and our
/// `session_id`.
std::string webhook_body(const session_state& st, const Value& input) {
  Document out(rapidjson::kObjectType);
  auto& a = out.GetAllocator();
  if (input.IsObject())
    for (auto& m : input.GetObject()) {
      std::string_view name{m.name.GetString(), m.name.GetStringLength()};
      if (name == "transcript_path" || name == "agent_transcript_path" || name == "cwd"
          || name == "session_id")
        continue;
      out.AddMember(Value(m.name, a), Value(m.value, a), a);
    }
  out.AddMember("hook_event", Value(string_member(input, "hook_event_name").c_str(), a), a);
  out.AddMember("session_id", Value(st.who.id.c_str(), a), a);
  auto cwd = string_member(input, "cwd");
  if (!st.work_root.empty() && cwd.rfind(st.work_root, 0) == 0) {
    auto rel = cwd.substr(st.work_root.size());
    if (!rel.empty() && rel.front() == '/')
      rel.erase(0, 1);
    out.AddMember("cwd", Value(rel.empty() ? "." : rel.c_str(), a), a);
  }
  return json::to_string(out);
}

/// What the CLI gets when the webhook of `event` failed: PreToolUse denies, the others proceed.
std::string failed_hook_output(const std::string& event, std::string_view why) {
  if (event != "PreToolUse")
    return "{}";
  Document out(rapidjson::kObjectType);
  auto& a = out.GetAllocator();
  Value hso(rapidjson::kObjectType);
  hso.AddMember("hookEventName", "PreToolUse", a);
  hso.AddMember("permissionDecision", "deny", a);
  auto reason = "The PreToolUse webhook failed (" + std::string{why} + "): the call is denied.";
  hso.AddMember("permissionDecisionReason", Value(reason.c_str(), a), a);
  out.AddMember("hookSpecificOutput", hso, a);
  return json::to_string(out);
}

/// The CLI's hook output for a webhook answer `{decision, reason?, modified_input?,
/// additional_context?}` of `event`; empty when the answer is not of that shape.
std::string hook_output(const std::string& event, std::string_view body) {
  Document in;
  if (!parse_object(body, in))
    return {};
  auto* decision = member(in, "decision");
  auto* reason = member(in, "reason");
  auto* modified = member(in, "modified_input");
  auto* context = member(in, "additional_context");
  std::string d;
  if (decision != nullptr) {
    if (!decision->IsString())
      return {};
    d = decision->GetString();
    if (d != "allow" && d != "deny" && d != "ask")
      return {};
  }
  if ((reason != nullptr && !reason->IsString()) || (modified != nullptr && !modified->IsObject())
      || (context != nullptr && !context->IsString()))
    return {};
  Document out(rapidjson::kObjectType);
  auto& a = out.GetAllocator();
  Value hso(rapidjson::kObjectType);
  hso.AddMember("hookEventName", Value(event.c_str(), a), a);
  bool specific = false;
  if (event == "PreToolUse") {
    if (!d.empty()) {
      hso.AddMember("permissionDecision", Value(d.c_str(), a), a);
      specific = true;
      if (reason != nullptr)
        hso.AddMember("permissionDecisionReason", Value(*reason, a), a);
      if (modified != nullptr && d == "allow")
        hso.AddMember("updatedInput", Value(*modified, a), a);
    }
  } else if (d == "deny" && event != "PreCompact" && event != "Notification") {
    out.AddMember("decision", "block", a);
    out.AddMember("reason", reason != nullptr ? Value(*reason, a) : Value("Blocked by a webhook."),
                  a);
  }
  if (context != nullptr
      && (event == "PreToolUse" || event == "PostToolUse" || event == "UserPromptSubmit")) {
    hso.AddMember("additionalContext", Value(*context, a), a);
    specific = true;
  }
  if (specific)
    out.AddMember("hookSpecificOutput", hso, a);
  return json::to_string(out);
}

void on_hook_callback(session_self self, const std::string& request_id, const Value& req) {
  auto& st = self->state;
  auto id = string_member(req, "callback_id");
  std::size_t index = st.hooks.size();
  if (id.rfind("hook-", 0) == 0)
    index = static_cast<std::size_t>(std::strtoul(id.c_str() + 5, nullptr, 10));
  auto* input = member(req, "input");
  if (index >= st.hooks.size() || !st.deps.webhooks || input == nullptr) {
    write_control(self, *claude::control_success(request_id, "{}"));
    return;
  }
  const auto& hook = st.hooks[index];
  outbound::post_request post;
  post.url = hook.url;
  post.headers = hook.headers;
  post.body = webhook_body(st, *input);
  post.timeout = std::chrono::seconds{hook.timeout_s};
  auto addr = self->address();
  auto gen = st.gen;
  auto event = hook.event;
  metrics::webhook_called(event);
  st.deps.webhooks->post(std::move(post), [addr, gen, request_id, event](outbound::post_result r) {
    std::string failure;
    std::string output;
    std::string_view word;  // the metric's fixed reason
    if (r.error != outbound::failure::none)
      word = outbound::to_string(r.error), failure = std::string{word};
    else if (!r.ok())
      word = "status", failure = "status " + std::to_string(r.status);
    else if ((output = hook_output(event, r.body)).empty())
      word = "invalid_answer", failure = "invalid answer";
    if (!failure.empty()) {
      metrics::webhook_failed(event, word);
      output = failed_hook_output(event, failure);
    }
    // The INTERNAL message carries {output, failure?, event}; only the actor emits events.
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w{buf};
    w.StartObject();
    w.Key("output");
    w.RawValue(output.data(), output.size(), rapidjson::kObjectType);
    w.Key("event");
    w.String(event.c_str());
    w.Key("failure");
    w.String(failure.c_str());
    w.EndObject();
    if (auto a = caf::actor_cast<caf::actor>(addr))
      caf::anon_send(a, atom::hooked_v, gen, request_id, std::string{buf.GetString()});
  });
}

}  // namespace

// -- CLI requests and replies -------------------------------------------------------------------

void on_cli_request(session_self self, const claude::cli_message& msg) {
  Document doc;
  if (msg.request_id.empty() || !parse_object(msg.raw, doc))
    return;
  auto* req = member(doc, "request");
  if (req == nullptr || !req->IsObject())
    return;
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
  if (it == st.awaiting.end())
    return;
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

void on_hooked(session_self self, uint64_t gen, std::string request_id, std::string wrapped) {
  auto& st = self->state;
  Document doc;
  if (gen != st.gen || !st.proc || !parse_object(wrapped, doc))
    return;
  auto failure = string_member(doc, "failure");
  auto event = string_member(doc, "event");
  if (!failure.empty()) {
    log::warn("webhook failed", {.component = "webhook", .session_id = st.who.id,
                                 .error_code = failure});
    if (st.in_turn)
      emit(self, system_message("hook_failed",
                                "The " + event + " webhook failed (" + failure + ").",
                                {{"hook_event", event}, {"reason", failure}}));
  }
  auto* output = member(doc, "output");
  auto line = claude::control_success(request_id, output != nullptr ? json::to_string(*output)
                                                                    : std::string{"{}"});
  if (line)
    write_control(self, *line);
}

std::string parse_hooks(const turn_spec& spec, std::vector<hook_target>& hooks) {
  hooks.clear();
  Document doc;
  if (spec.hooks_json.empty() || !parse_object(spec.hooks_json, doc))
    return {};
  Document out(rapidjson::kObjectType);
  auto& a = out.GetAllocator();
  for (auto& ev : doc.GetObject()) {
    if (!ev.value.IsArray())
      continue;
    Value list(rapidjson::kArrayType);
    for (auto& h : ev.value.GetArray()) {
      hook_target t;
      t.event = ev.name.GetString();
      t.url = string_member(h, "url");
      if (auto* to = member(h, "timeout"); to != nullptr && to->IsInt())
        t.timeout_s = to->GetInt();
      if (auto* hs = member(h, "headers"); hs != nullptr && hs->IsObject())
        for (auto& m : hs->GetObject())
          if (m.value.IsString())
            t.headers.emplace_back(m.name.GetString(), m.value.GetString());
      Value entry(rapidjson::kObjectType);
      auto matcher = string_member(h, "matcher");
      entry.AddMember("matcher", matcher.empty() ? Value() : Value(matcher.c_str(), a), a);
      Value ids(rapidjson::kArrayType);
      auto id = "hook-" + std::to_string(hooks.size());
      ids.PushBack(Value(id.c_str(), a), a);
      entry.AddMember("hookCallbackIds", ids, a);
      // The CLI's own deadline is later than the webhook's: our failure answer comes first.
      entry.AddMember("timeout", t.timeout_s + 2, a);
      list.PushBack(entry, a);
      hooks.push_back(std::move(t));
    }
    out.AddMember(Value(ev.name, a), list, a);
  }
  return hooks.empty() ? std::string{} : json::to_string(out);
}

std::string register_hooks(session_self self, const turn_spec& spec) {
  return parse_hooks(spec, self->state.hooks);
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
  if (it == st.pending.end())
    return make_error(errc::session_idle, "no such pending request");
  const auto& p = it->second;
  auto request_id = it->first;
  if (a.behavior == "deny") {
    deny(self, request_id, a.message.value_or("The user denied this tool call."));
    st.pending.erase(it);
    return true;
  }
  if (p.question) {
    Document input;
    if (!parse_object(p.input_json, input))
      input.SetObject();
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
            if (l.IsString())
              label += (label.empty() ? "" : ", ") + std::string{l.GetString()};
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
  if (a.behavior != "allow")
    return http::validation_error({{"behavior", "must be allow or deny"}});
  allow(self, request_id, a.updated_input.value_or(p.input_json));
  st.pending.erase(it);
  return true;
}

void on_permission_timeout(session_self self, uint64_t token) {
  auto& st = self->state;
  for (auto it = st.pending.begin(); it != st.pending.end(); ++it) {
    if (it->second.token != token)
      continue;
    auto id = it->first;
    auto tool = it->second.tool_name;
    st.pending.erase(it);
    deny(self, id, "No answer came within the permission timeout: the call is denied.");
    if (st.in_turn)
      emit(self, system_message("permission_timeout",
                                "No answer came for " + tool
                                  + " within the permission timeout; it was denied.",
                                {{"request_id", id}, {"tool_name", tool}}));
    return;
  }
}

// -- live control -------------------------------------------------------------------------------

caf::result<std::string> on_control(session_self self, live_control c) {
  auto& st = self->state;
  storage::options_update update;
  if (!c.options_json.empty())
    update.options_json = c.options_json;
  if (c.kind == "permission_mode")
    update.permission_mode = c.value;
  else
    update.model = c.value == "default" ? std::string{} : c.value;
  auto q = storage::make_update_options_query(st.who.tenant_id, st.who.id, update);
  if (!q)
    return q.error();
  auto rp = self->make_response_promise<std::string>();
  // Stored first, answered after: a turn the client starts once it has the answer reads the
  // new options (it only touches the options columns, so it may bypass the status queue).
  self->request(st.deps.pg, st.deps.db_timeout, std::move(*q))
    .then(
      [self, rp, c](storage::db_result&) mutable {
        auto& s = self->state;
        if (!s.proc) {
          rp.deliver(std::string{"stored"});
          return;
        }
        auto id = s.request_ids.next();
        auto line = c.kind == "permission_mode"
                      ? claude::set_permission_mode(id, c.value)
                      : claude::set_model(id, c.value == "default" ? std::string_view{} : c.value);
        auto gen = s.gen;
        send_control(self, id, std::move(line),
                     [self, rp, gen, options = c.options_json](bool ok, std::string) mutable {
                       auto& s2 = self->state;
                       // Applied live: the next turn of the stored options keeps this process.
                       if (ok && gen == s2.gen && !options.empty())
                         s2.proc_options_json = options;
                       // Refused live (e.g. bypass needs a new process): the next turn respawns.
                       rp.deliver(std::string{ok ? "applied" : "stored"});
                     });
      },
      [rp](caf::error& e) mutable { rp.deliver(std::move(e)); });
  return rp;
}

// -- checkpoints --------------------------------------------------------------------------------

void note_checkpoint_files(session_self self, const claude::cli_message& msg) {
  auto& st = self->state;
  if (!st.turn_checkpointed || msg.kind != claude::message_kind::assistant
      || msg.raw.find("\"tool_use\"") == std::string::npos)
    return;
  Document doc;
  if (!parse_object(msg.raw, doc))
    return;
  auto* message = member(doc, "message");
  auto* content = message != nullptr ? member(*message, "content") : nullptr;
  if (content == nullptr || !content->IsArray())
    return;
  for (auto& block : content->GetArray()) {
    if (string_member(block, "type") != "tool_use")
      continue;
    auto name = string_member(block, "name");
    if (std::find(std::begin(edit_tools), std::end(edit_tools), name) == std::end(edit_tools))
      continue;
    auto* input = member(block, "input");
    if (input == nullptr)
      continue;
    auto path = string_member(*input, "file_path");
    if (path.empty())
      path = string_member(*input, "notebook_path");
    auto prefix = st.work_root + "/";
    if (path.rfind(prefix, 0) == 0)
      st.turn_files.insert(path.substr(prefix.size()));
  }
}

void end_turn_control(session_self self, storage::db_batch& batch) {
  auto& st = self->state;
  st.pending.clear();  // the CLI cancels what it asked when its turn ends
  if (st.turn_checkpointed && !st.turn_files.empty()) {
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w{buf};
    w.StartArray();
    for (auto& f : st.turn_files)
      w.String(f.c_str(), static_cast<rapidjson::SizeType>(f.size()));
    w.EndArray();
    batch.queries.push_back(storage::make_checkpoint_files_query(
      st.who.tenant_id, st.who.id, st.turn_uuid, buf.GetString()));
  }
  st.turn_checkpointed = false;
}

namespace {

/// The rewind reply: the CLI's dry-run payload with paths relative to the tenant workspace.
std::string rewind_reply(const session_state& st, const std::string& checkpoint_id, bool dry_run,
                         const Value& payload) {
  Document out(rapidjson::kObjectType);
  auto& a = out.GetAllocator();
  out.AddMember("checkpoint_id", Value(checkpoint_id.c_str(), a), a);
  out.AddMember("dry_run", dry_run, a);
  Value files(rapidjson::kArrayType);
  if (auto* changed = member(payload, "filesChanged"); changed != nullptr && changed->IsArray())
    for (auto& f : changed->GetArray()) {
      if (!f.IsString())
        continue;
      std::string path = f.GetString();
      auto prefix = st.work_root + "/";
      if (path.rfind(prefix, 0) == 0)
        path.erase(0, prefix.size());
      else if (!path.empty() && path.front() == '/')
        continue;  // never a server path
      files.PushBack(Value(path.c_str(), a), a);
    }
  out.AddMember("files_changed", files, a);
  auto count = [&](const char* name) {
    auto* v = member(payload, name);
    return v != nullptr && v->IsInt64() ? v->GetInt64() : int64_t{0};
  };
  out.AddMember("insertions", count("insertions"), a);
  out.AddMember("deletions", count("deletions"), a);
  return json::to_string(out);
}

/// The number of files the CLI would still change to reach the checkpoint.
std::size_t files_to_change(const Value& payload) {
  auto* changed = member(payload, "filesChanged");
  return changed != nullptr && changed->IsArray() ? changed->Size() : 0;
}

/// The rewind is over (either way): the session is idle again.
void rewind_done(session_self self) {
  auto& st = self->state;
  st.rewinding = false;
  if (st.proc) {
    set_status(self, session_status::idle);
    self->send(st.deps.admission, atom::idle_v, session_actor{self});
  }
}

/// Dry run, then (unless `dry_run`) the rewind and a second dry run that must find nothing left
/// to change: the CLI answers success even when its backups are gone and nothing was restored.
void do_rewind(session_self self, std::string checkpoint, bool dry_run,
               caf::typed_response_promise<std::string> rp) {
  auto& st = self->state;
  auto fail = [self, rp](std::string why) mutable {
    log::warn("rewind failed", {.component = "session", .session_id = self->state.who.id,
                                .error_code = why});
    rewind_done(self);
    rp.deliver(make_error(errc::agent_error, std::move(why)));
  };
  auto id = st.request_ids.next();
  send_control(
    self, id, claude::rewind_files(id, checkpoint, true),
    [self, checkpoint, dry_run, rp, fail](bool ok, std::string payload) mutable {
      Document plan;
      if (!ok || !parse_object(payload, plan)) {
        fail("the agent refused the rewind");
        return;
      }
      auto* can = member(plan, "canRewind");
      if (can == nullptr || !can->IsBool() || !can->GetBool()) {
        fail("the agent cannot rewind to this checkpoint");
        return;
      }
      auto reply = rewind_reply(self->state, checkpoint, dry_run, plan);
      if (dry_run) {
        rewind_done(self);
        rp.deliver(std::move(reply));
        return;
      }
      auto& s = self->state;
      auto id2 = s.request_ids.next();
      send_control(
        self, id2, claude::rewind_files(id2, checkpoint, false),
        [self, checkpoint, rp, fail, reply](bool ok2, std::string) mutable {
          if (!ok2) {
            fail("the agent refused the rewind");
            return;
          }
          auto& s2 = self->state;
          auto id3 = s2.request_ids.next();
          send_control(self, id3, claude::rewind_files(id3, checkpoint, true),
                       [self, rp, fail, reply](bool ok3, std::string check) mutable {
                         Document left;
                         if (!ok3 || !parse_object(check, left) || files_to_change(left) > 0) {
                           fail("the files were not restored");
                           return;
                         }
                         rewind_done(self);
                         rp.deliver(std::move(reply));
                       });
        });
    });
}

}  // namespace

caf::result<std::string> on_rewind(session_self self, std::string checkpoint_id, bool dry_run,
                                   turn_spec_ptr spec) {
  auto& st = self->state;
  if (st.in_turn || st.waiting || st.rewinding)
    return http::with_retry_after(make_error(errc::session_locked, "a turn is running"), 1s);
  if (!spec)
    return make_error(errc::internal, "rewind without options");
  auto rp = self->make_response_promise<std::string>();
  st.rewinding = true;
  st.work_root = work_root_of(*spec);
  self
    ->request(st.deps.pg, st.deps.db_timeout,
              storage::make_checkpoint_list_query(st.who.tenant_id, st.who.id, checkpoint_id))
    .then(
      [=](storage::db_result& r) mutable {
        auto found = storage::parse_checkpoints(r);
        if (!found || found->empty()) {
          self->state.rewinding = false;
          rp.deliver(make_error(errc::checkpoint_not_found, "no such checkpoint"));
          return;
        }
        auto& s = self->state;
        auto ready = [=]() mutable { do_rewind(self, checkpoint_id, dry_run, rp); };
        if (s.proc) {
          ready();
          return;
        }
        // Hibernated: a process (resumed with the stored options) does the rewind.
        s.waiting_spec = spec;
        s.waiting = waiting_work{ready, [=](caf::error e) mutable {
                                   self->state.rewinding = false;
                                   rp.deliver(std::move(e));
                                 }};
        proceed(self);
      },
      [=](caf::error& e) mutable {
        self->state.rewinding = false;
        rp.deliver(std::move(e));
      });
  return rp;
}

}  // namespace caa::detail

namespace caa {

std::string hooks_init_json(const turn_spec& spec) {
  std::vector<detail::hook_target> hooks;
  return detail::parse_hooks(spec, hooks);
}

}  // namespace caa
