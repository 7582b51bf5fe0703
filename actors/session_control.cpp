// Interactive control of a session (CLI-PROTOCOL.md §3): the CLI's `can_use_tool` becomes a
// `permission_request` or `question` event and waits for the client's answer (or
// PERMISSION_TIMEOUT); control responses are routed to whoever sent the request; live mode and
// model changes are stored, then applied to the running CLI. Webhook hooks are in
// session_hooks.cpp, checkpoints and rewind in session_checkpoints.cpp. Everything runs in the
// session actor, so an answer, an interrupt and a timeout of the same request are serialised by its
// mailbox: exactly one of them answers the CLI.

#include "actors/session_control_util.hpp"
#include "config/json_parse.hpp"
#include "transport/json/api_events.hpp"

#include "config/errc.hpp"
#include "config/logging.hpp"
#include "transport/json/json.hpp"

#include <caf/all.hpp>

#include "config/error_values.hpp"
#include "storage/postgres/session_queries.hpp"

namespace caa::detail {

using rapidjson::Document;
using rapidjson::Value;

bool parse_object(std::string_view text, Document& doc) {
  return json::parse_untrusted_object(text, doc);
}

void write_control(session_self self, const std::string& line) {
  auto& st = self->state;
  if (!st.cli.proc || st.cli.proc->write_line(std::string{line}))
    log::warn("cannot write a control line", {.component = "session", .session_id = st.who.id});
}

namespace {

using namespace std::chrono_literals;

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

void on_can_use_tool(session_self self, const std::string& request_id, const Value& req) {
  auto& st = self->state;
  if (st.phase != session_phase::in_turn) {
    deny(self, request_id, "No client is waiting for this session.");
    return;
  }
  if (st.requests.pending.count(request_id) > 0) {
    deny(self, request_id, "This request is already pending.");
    return;
  }
  if (st.requests.pending.size() >= max_pending_requests) {
    deny(self, request_id, "Too many permission requests are pending.");
    return;
  }
  pending_request p;
  auto* input = member(req, "input");
  p.input_json = input != nullptr && input->IsObject() ? json::to_string(*input) : "{}";
  p.token = st.requests.next_token();
  p.tool_name = string_member(req, "tool_name");
  auto expires = rfc3339_after(st.deps.permission_timeout);
  if (p.tool_name == "AskUserQuestion" && input != nullptr && member(*input, "questions")) {
    p.question = true;
    emit(self, question_event(request_id, *input, string_member(req, "tool_use_id"), expires,
                              p.questions));
  } else {
    emit(self, permission_event(request_id, req, expires, st.turn.work_root));
  }
  self->delayed_send(self, st.deps.permission_timeout, atom::answer_due_v, p.token);
  st.requests.pending.emplace(request_id, std::move(p));
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
    st.requests.pending.erase(msg.request_id);  // interrupt: the CLI withdrew its question
    return;
  }
  auto it = st.requests.awaiting.find(msg.request_id);
  if (it == st.requests.awaiting.end()) return;
  auto reply = std::move(it->second);
  st.requests.awaiting.erase(it);
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
  if (!st.cli.proc || st.cli.proc->write_line(std::move(line))) {
    reply(false, "the agent process is not running");
    return;
  }
  st.requests.awaiting.emplace(std::move(request_id), std::move(reply));
}
// -- answers and timeouts -----------------------------------------------------------------------

caf::result<bool> on_answer(session_self self, pending_answer a) {
  auto& st = self->state;
  auto it = st.requests.pending.end();
  if (a.request_id.empty()) {
    // `{"answer":"text"}`: the one pending question.
    for (auto i = st.requests.pending.begin(); i != st.requests.pending.end(); ++i)
      if (i->second.question) {
        if (it != st.requests.pending.end())
          return caa::validation_error({{"request_id", "several questions are pending"}});
        it = i;
      }
  } else {
    it = st.requests.pending.find(a.request_id);
  }
  if (it == st.requests.pending.end())
    return make_error(errc::session_idle, "no such pending request");
  const auto& p = it->second;
  auto request_id = it->first;
  if (a.behavior == "deny") {
    deny(self, request_id, a.message.value_or("The user denied this tool call."));
    st.requests.pending.erase(it);
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
        return caa::validation_error({{"answers", "must be an object"}});
      for (auto& m : given.GetObject()) {
        std::string label;
        if (m.value.IsString()) {
          label = m.value.GetString();
        } else if (m.value.IsArray()) {  // multi-select: labels joined as the SDKs do
          for (auto& l : m.value.GetArray())
            if (l.IsString()) label += (label.empty() ? "" : ", ") + std::string{l.GetString()};
        } else {
          return caa::validation_error({{"answers", "values must be labels (strings)"}});
        }
        answers.AddMember(Value(m.name, al), Value(label.c_str(), al), al);
      }
    } else if (a.answer) {
      if (p.questions.size() != 1)
        return caa::validation_error(
            {{"answer", "only answers a request with exactly one question; use answers"}});
      answers.AddMember(Value(p.questions.front().c_str(), al), Value(a.answer->c_str(), al), al);
    } else if (a.updated_input) {
      allow(self, request_id, *a.updated_input);
      st.requests.pending.erase(it);
      return true;
    } else {
      return caa::validation_error({{"answers", "is required to answer a question"}});
    }
    input.RemoveMember("answers");
    input.AddMember("answers", answers, al);
    allow(self, request_id, json::to_string(input));
    st.requests.pending.erase(it);
    return true;
  }
  if (a.behavior != "allow") return caa::validation_error({{"behavior", "must be allow or deny"}});
  allow(self, request_id, a.updated_input.value_or(p.input_json));
  st.requests.pending.erase(it);
  return true;
}

void on_permission_timeout(session_self self, uint64_t token) {
  auto& st = self->state;
  for (auto it = st.requests.pending.begin(); it != st.requests.pending.end(); ++it) {
    if (it->second.token != token) continue;
    auto id = it->first;
    auto tool = it->second.tool_name;
    st.requests.pending.erase(it);
    deny(self, id, "No answer came within the permission timeout: the call is denied.");
    if (st.phase == session_phase::in_turn)
      emit(self, system_message("permission_timeout",
                                "No answer came for " + tool +
                                    " within the permission timeout; it was denied.",
                                {{"request_id", id}, {"tool_name", tool}}));
    return;
  }
}

namespace {

/// Applies a stored control change to the running CLI (set_permission_mode / set_model);
/// answers "stored" when no process runs or the CLI refused.
void apply_control(session_self self, caf::typed_response_promise<std::string> rp,
                   const live_control& c) {
  auto& cli = self->state.cli;
  if (!cli.proc) {
    rp.deliver(std::string{"stored"});
    return;
  }
  auto id = cli.request_ids.next();
  auto line = c.kind == "permission_mode"
                  ? claude::set_permission_mode(id, c.value)
                  : claude::set_model(id, c.value == "default" ? std::string_view{} : c.value);
  auto gen = cli.gen;
  send_control(self, id, std::move(line),
               [self, rp, gen, options = c.options_json](bool ok, const std::string&) mutable {
                 auto& now = self->state.cli;
                 // Applied live: the next turn of the stored options keeps this process.
                 if (ok && gen == now.gen && !options.empty()) now.proc_options_json = options;
                 // Refused live (e.g. bypass needs a new process): the next turn respawns.
                 rp.deliver(std::string{ok ? "applied" : "stored"});
               });
}

}  // namespace

// -- live permission mode and model (API.md control route) --------------------------------------

caf::result<std::string> on_control(session_self self, const live_control& c) {
  auto& st = self->state;
  storage::options_update update;
  if (!c.options_json.empty()) update.options_json = c.options_json;
  if (c.kind == "permission_mode")
    update.permission_mode = c.value;
  else
    update.model = c.value == "default" ? std::string{} : c.value;
  auto q = storage::make_update_options_query(st.who.tenant_id, st.who.id, update);
  if (!q) return q.error();
  auto rp = self->make_response_promise<std::string>();
  // Stored first, answered after: a turn the client starts once it has the answer reads the
  // new options (it only touches the options columns, so it may bypass the status queue).
  request_write(self, std::move(*q), [self, rp, c](const caf::error& e) mutable {
    if (e)
      rp.deliver(e);
    else
      apply_control(self, rp, c);
  });
  return rp;
}

}  // namespace caa::detail
