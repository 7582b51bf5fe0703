// Hooks as webhooks (CLI-PROTOCOL.md §4): the request's hooks are registered in `initialize`;
// each `hook_callback` is POSTed to the tenant's URL through the outbound client (the only way
// out: SSRF guard, no redirects, capped size and time) and its answer mapped to the CLI's hook
// output. A failed webhook denies PreToolUse and lets the other events proceed.

#include "actors/session_control_util.hpp"

#include "config/errc.hpp"
#include "config/logging.hpp"
#include "transport/json/json.hpp"

#include <caf/all.hpp>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include "config/metrics_catalog.hpp"
#include "transport/claude/control.hpp"
#include "transport/outbound/client.hpp"

namespace caa::detail {

using rapidjson::Document;
using rapidjson::Value;

namespace {

/// The webhook body: the CLI's hook input without server paths, plus `hook_event` and our
/// `session_id`.
std::string webhook_body(const session_state& st, const Value& input) {
  Document out(rapidjson::kObjectType);
  auto& a = out.GetAllocator();
  if (input.IsObject())
    for (auto& m : input.GetObject()) {
      std::string_view name{m.name.GetString(), m.name.GetStringLength()};
      if (name == "transcript_path" || name == "agent_transcript_path" || name == "cwd" ||
          name == "session_id")
        continue;
      out.AddMember(Value(m.name, a), Value(m.value, a), a);
    }
  out.AddMember("hook_event", Value(string_member(input, "hook_event_name").c_str(), a), a);
  out.AddMember("session_id", Value(st.who.id.c_str(), a), a);
  auto cwd = string_member(input, "cwd");
  if (!st.turn.work_root.empty() && cwd.rfind(st.turn.work_root, 0) == 0) {
    auto rel = cwd.substr(st.turn.work_root.size());
    if (!rel.empty() && rel.front() == '/') rel.erase(0, 1);
    out.AddMember("cwd", Value(rel.empty() ? "." : rel.c_str(), a), a);
  }
  return json::to_string(out);
}

/// What the CLI gets when the webhook of `event` failed: PreToolUse denies, the others proceed.
std::string failed_hook_output(const std::string& event, std::string_view why) {
  if (event != "PreToolUse") return "{}";
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
  if (!parse_object(body, in)) return {};
  auto* decision = member(in, "decision");
  auto* reason = member(in, "reason");
  auto* modified = member(in, "modified_input");
  auto* context = member(in, "additional_context");
  std::string d;
  if (decision != nullptr) {
    if (!decision->IsString()) return {};
    d = decision->GetString();
    if (d != "allow" && d != "deny" && d != "ask") return {};
  }
  if ((reason != nullptr && !reason->IsString()) ||
      (modified != nullptr && !modified->IsObject()) ||
      (context != nullptr && !context->IsString()))
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
      if (reason != nullptr) hso.AddMember("permissionDecisionReason", Value(*reason, a), a);
      if (modified != nullptr && d == "allow")
        hso.AddMember("updatedInput", Value(*modified, a), a);
    }
  } else if (d == "deny" && event != "PreCompact" && event != "Notification") {
    out.AddMember("decision", "block", a);
    out.AddMember("reason", reason != nullptr ? Value(*reason, a) : Value("Blocked by a webhook."),
                  a);
  }
  if (context != nullptr &&
      (event == "PreToolUse" || event == "PostToolUse" || event == "UserPromptSubmit")) {
    hso.AddMember("additionalContext", Value(*context, a), a);
    specific = true;
  }
  if (specific) out.AddMember("hookSpecificOutput", hso, a);
  return json::to_string(out);
}

}  // namespace

void on_hook_callback(session_self self, const std::string& request_id, const Value& req) {
  auto& st = self->state;
  auto id = string_member(req, "callback_id");
  std::size_t index = st.requests.hooks.size();
  if (id.rfind("hook-", 0) == 0)
    index = static_cast<std::size_t>(std::strtoul(id.c_str() + 5, nullptr, 10));
  auto* input = member(req, "input");
  if (index >= st.requests.hooks.size() || !st.deps.webhooks || input == nullptr) {
    write_control(self, *claude::control_success(request_id, "{}"));
    return;
  }
  const auto& hook = st.requests.hooks[index];
  if (st.requests.hooks_in_flight.size() >= max_hooks_in_flight) {
    metrics::webhook_failed(hook.event, "busy");
    if (auto line = claude::control_success(
            request_id, failed_hook_output(hook.event, "too many webhooks in flight")))
      write_control(self, *line);
    return;
  }
  st.requests.hooks_in_flight.emplace(st.cli.gen, request_id);
  outbound::post_request post;
  post.url = hook.url;
  post.headers = hook.headers;
  post.body = webhook_body(st, *input);
  post.timeout = std::chrono::seconds{hook.timeout_s};
  auto addr = self->address();
  auto gen = st.cli.gen;
  auto event = hook.event;
  metrics::webhook_called(event);
  st.deps.webhooks->post(
      std::move(post), [addr, gen, request_id, event](const outbound::post_result& r) {
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

void on_hooked(session_self self, uint64_t gen, const std::string& request_id,
               const std::string& wrapped) {
  auto& st = self->state;
  st.requests.hooks_in_flight.erase({gen, request_id});
  Document doc;
  if (gen != st.cli.gen || !st.cli.proc || !parse_object(wrapped, doc)) return;
  auto failure = string_member(doc, "failure");
  auto event = string_member(doc, "event");
  if (!failure.empty()) {
    log::warn("webhook failed",
              {.component = "webhook", .session_id = st.who.id, .error_code = failure});
    if (st.phase == session_phase::in_turn)
      emit(self,
           system_message("hook_failed", "The " + event + " webhook failed (" + failure + ").",
                          {{"hook_event", event}, {"reason", failure}}));
  }
  auto* output = member(doc, "output");
  auto line = claude::control_success(
      request_id, output != nullptr ? json::to_string(*output) : std::string{"{}"});
  if (line) write_control(self, *line);
}

std::string parse_hooks(const turn_spec& spec, std::vector<hook_target>& hooks) {
  hooks.clear();
  Document doc;
  if (spec.hooks_json.empty() || !parse_object(spec.hooks_json, doc)) return {};
  Document out(rapidjson::kObjectType);
  auto& a = out.GetAllocator();
  for (auto& ev : doc.GetObject()) {
    if (!ev.value.IsArray()) continue;
    Value list(rapidjson::kArrayType);
    for (auto& h : ev.value.GetArray()) {
      hook_target t;
      t.event = ev.name.GetString();
      t.url = string_member(h, "url");
      if (auto* to = member(h, "timeout"); to != nullptr && to->IsInt()) t.timeout_s = to->GetInt();
      if (auto* hs = member(h, "headers"); hs != nullptr && hs->IsObject())
        for (auto& m : hs->GetObject())
          if (m.value.IsString()) t.headers.emplace_back(m.name.GetString(), m.value.GetString());
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
  return parse_hooks(spec, self->state.requests.hooks);
}

}  // namespace caa::detail
