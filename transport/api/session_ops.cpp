#include "transport/api/session_ops.hpp"
#include "config/json_parse.hpp"

#include "storage/bridge.hpp"
#include "transport/json/json.hpp"

#include <algorithm>

namespace caa::api {

namespace {

constexpr std::size_t max_request_id = 200;
constexpr std::size_t max_message_chars = 10'000;
constexpr std::size_t max_answers = 20;
constexpr std::size_t max_answer_chars = 10'000;

std::string_view text(const rapidjson::Value& v) {
  return {v.GetString(), v.GetStringLength()};
}

bool short_text(const rapidjson::Value& v, std::size_t max, bool allow_empty = false) {
  return v.IsString() && (allow_empty || v.GetStringLength() > 0) &&
         json::utf8_length(text(v)) <= max;
}

}  // namespace

caf::expected<pending_answer> decode_answer(const rapidjson::Value& obj,
                                            std::initializer_list<std::string_view> extra) {
  json::field_errors errors;
  pending_answer out;
  if (!obj.IsObject()) return caa::validation_error({{"body", "must be a JSON object"}});
  for (auto& m : obj.GetObject()) {
    auto name = text(m.name);
    auto& v = m.value;
    if (name == "request_id") {
      if (!short_text(v, max_request_id) || text(v).find_first_of("\r\n") != std::string_view::npos)
        errors.fail("request_id", "must be the request_id of the pending request");
      else
        out.request_id = std::string{text(v)};
    } else if (name == "behavior") {
      if (!v.IsString() || (text(v) != "allow" && text(v) != "deny"))
        errors.fail("behavior", "must be allow or deny");
      else
        out.behavior = std::string{text(v)};
    } else if (name == "updated_input") {
      if (!v.IsObject())
        errors.fail("updated_input", "must be an object (the tool input)");
      else
        out.updated_input = json::to_string(v);
    } else if (name == "message") {
      if (!short_text(v, max_message_chars))
        errors.fail("message", "must be a string of 1 to 10000 characters");
      else
        out.message = std::string{text(v)};
    } else if (name == "answers") {
      bool ok = v.IsObject() && v.MemberCount() > 0 && v.MemberCount() <= max_answers;
      if (ok)
        for (auto& a : v.GetObject()) {
          if (a.value.IsString()) {
            ok = ok && short_text(a.value, max_answer_chars);
          } else if (a.value.IsArray() && !a.value.Empty()) {
            for (auto& l : a.value.GetArray()) ok = ok && short_text(l, max_answer_chars);
          } else {
            ok = false;
          }
        }
      if (!ok)
        errors.fail("answers",
                    "must be an object of 1 to 20 questions, each a label or a list of labels");
      else
        out.answers = json::to_string(v);
    } else if (name == "answer") {
      if (!short_text(v, max_answer_chars))
        errors.fail("answer", "must be a string of 1 to 10000 characters");
      else
        out.answer = std::string{text(v)};
    } else if (std::find(extra.begin(), extra.end(), name) == extra.end()) {
      errors.unknown_member(name, {});
    }
  }
  if (errors.ok()) {
    if (out.request_id.empty() && !out.answer)
      errors.fail("request_id", "is required (or `answer` alone for the one pending question)");
    else if (!out.request_id.empty() && out.behavior.empty() && !out.answers && !out.answer)
      errors.fail("behavior", "is required: allow or deny (or answers for a question)");
    if (out.behavior == "deny" && (out.updated_input || out.answers || out.answer))
      errors.fail("behavior", "a deny carries only a message");
  }
  if (!errors.ok()) return caa::validation_error(errors.take());
  return out;
}

caf::expected<live_control> decode_control(std::string_view kind, const rapidjson::Value* value,
                                           const decode_policy& policy, std::string_view field) {
  std::string f{field};
  if (value == nullptr || !value->IsString())
    return caa::validation_error({{f, "is required (a string)"}});
  auto v = text(*value);
  if (kind == "permission_mode") {
    if (!is_permission_mode(v))
      return caa::validation_error(
          {{f, "must be default, acceptEdits, plan, bypassPermissions or dontAsk"}});
    if (v == "bypassPermissions" && !policy.allow_bypass)
      return caa::validation_error({{f, "bypassPermissions is not allowed for this tenant"}});
  } else if (kind == "model") {
    if (v != "default" && !is_model_name(v))
      return caa::validation_error(
          {{f, "must be sonnet, opus, haiku, a claude-... model id, or default"}});
  } else {
    return caa::validation_error({{"type", "must be permission_mode_change or model_change"}});
  }
  return live_control{std::string{kind}, std::string{v}, {}};
}

std::string apply_to_options(std::string_view options_json, const live_control& c) {
  rapidjson::Document doc;
  if (!json::parse_untrusted_object(options_json, doc)) doc.SetObject();
  auto& a = doc.GetAllocator();
  const char* key = c.kind == "permission_mode" ? "permission_mode" : "model";
  doc.RemoveMember(key);
  if (!(c.kind == "model" && c.value == "default"))
    doc.AddMember(rapidjson::StringRef(key), rapidjson::Value(c.value.c_str(), a), a);
  return json::to_string(doc);
}

namespace detail {

void answer_session(const session_api_ptr& api, std::string tenant_id, std::string id,
                    pending_answer answer, const std::function<void()>& ok, const error_fn& fail) {
  find_session(
      *api, std::move(tenant_id), std::move(id),
      [api, answer = std::move(answer), ok, fail](session_actor actor) {
        caa::async_request<bool>(
            *api->ctx.sys, std::move(actor), api->ctx.request_timeout, [ok](bool) { ok(); }, fail,
            atom::answer_v, answer);
      },
      fail);
}

void control_session(const session_api_ptr& api, const std::string& tenant_id,
                     const std::string& id, live_control c,
                     const std::function<void(std::string)>& ok, const error_fn& fail) {
  // The stored options first (tenant-scoped: another tenant's id is not found), so the change
  // also reaches every later spawn of the session.
  api->sessions.get(
      tenant_id, id,
      [api, tenant_id, id, c, ok, fail](const storage::session_record& rec) mutable {
        c.options_json = apply_to_options(rec.options_json, c);
        find_session(
            *api, tenant_id, id,
            [api, c, ok, fail](session_actor actor) {
              caa::async_request<std::string>(*api->ctx.sys, std::move(actor),
                                              api->ctx.request_timeout, ok, fail, atom::control_v,
                                              c);
            },
            fail);
      },
      fail);
}

}  // namespace detail

}  // namespace caa::api
