// libFuzzer target for the JSON decoders of the API (transport/api), one input byte choosing the
// decoder, one the decode policy, the rest being the body or frame:
//   '0' '1' '2'  decode_turn_body (query, resume, fork routes)
//   '3'          decode_answer on a body parsed by json::parse_object (the HTTP answer route)
//   '4'          decode_control as the HTTP control route calls it, then apply_to_options
//   '5'          the keys body: json::parse_object + json::field_reader as POST /api/v1/keys
//                reads it (its decode_create is file-local in keys.cpp)
//   '6' '7'      decode_ws_frame (text; '7' also as a binary message), then the decoder the
//                connection hands the frame to (turn body, answer, control)
// Properties: nothing throws; every refusal is an error with a code; every accepted value
// satisfies the documented limits (prompt, modes, model and tool names, ids, counts); what is
// stored (options_json, a control applied to stored options) decodes again under the same policy.
#include "config/uuid.hpp"
#include "transport/api/query_request.hpp"
#include "transport/api/session_ops.hpp"
#include "transport/api/turn_builder.hpp"
#include "transport/api/ws_frames.hpp"
#include "transport/http/error_catalog.hpp"
#include "transport/json/json.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <string>
#include <string_view>

namespace {

using namespace caa;
using namespace caa::api;

void check(bool ok) {
  if (!ok) std::abort();
}

constexpr std::string_view path_id = "6a0f6a7e-2f55-4c1e-9d7e-2b0d8f3c1a11";

bool lower_uuid(const std::string& s) {
  return caa::is_uuid(s) && s.find_first_of("ABCDEF") == std::string::npos;
}

bool is_object_text(std::string_view s) {
  rapidjson::Document d;
  return json::parse_value(s, d) == json::parse_failure::none && d.IsObject();
}

decode_policy policy_of(uint8_t bits) {
  decode_policy p;
  p.allow_bypass = (bits & 1) != 0;
  p.allow_http_urls = (bits & 2) != 0;
  p.mcp_servers_enabled = (bits & 4) != 0;
  p.hooks_enabled = (bits & 8) != 0;
  if (bits & 16) p.egress_allow_cidrs = {"127.0.0.1/32", "10.0.0.0/8"};
  if (bits & 32) p.mcp_stdio_commands = {"/usr/local/bin/mcp-files"};
  if (bits & 64) p.variables.emplace("TOKEN", secret{"t0ken"});
  p.agent_slot = (bits & 128) ? 3 : -1;
  return p;
}

/// An error returned by a decoder: a code, and field errors when it is a validation error, whose
/// field names are short and free of control characters (malformed names are never echoed).
void check_error(const caf::error& e) {
  check(e != caf::none);
  if (e != errc::validation) return;
  auto fields = caa::fields_of(e);
  check(!fields.empty());
  for (const auto& f : fields) {
    check(!f.field.empty() && f.field.size() <= 256);
    for (char ch : f.field) check(static_cast<unsigned char>(ch) >= 0x20 && ch != 0x7F);
  }
}

void check_turn(const turn_request& r, const decode_policy& policy) {
  check(!r.prompt.empty() && json::utf8_length(r.prompt) <= turn_limits::prompt_chars);
  check(is_permission_mode(r.permission_mode));
  if (r.permission_mode == "bypassPermissions") check(policy.allow_bypass);
  if (r.model) check(is_model_name(*r.model));
  check(r.images.size() <= turn_limits::images);
  for (const auto* tools : {&r.allowed_tools, &r.disallowed_tools}) {
    check(tools->size() <= turn_limits::tools);
    for (const auto& t : *tools) check(is_tool_name(t));
  }
  if (r.max_turns) check(*r.max_turns >= 1 && *r.max_turns <= turn_limits::max_turns);
  if (r.max_budget_usd)
    check(*r.max_budget_usd > 0 && *r.max_budget_usd <= turn_limits::max_budget_usd);
  if (r.session_id) check(lower_uuid(*r.session_id));
  if (r.mcp_servers) check(policy.mcp_servers_enabled && is_object_text(*r.mcp_servers));
  if (r.hooks) check(policy.hooks_enabled && is_object_text(*r.hooks));
  check(r.agents.size() <= turn_limits::agents);
  check(r.metadata.tags.size() <= turn_limits::tags);
  if (r.metadata.title) check(json::utf8_length(*r.metadata.title) <= turn_limits::title_chars);
}

/// The stored options of a turn decode again, under the same policy, to the same options.
void check_stored(std::string_view options_json, const turn_request& turn,
                  const decode_policy& policy) {
  auto again = with_stored_options(options_json, turn, policy);
  check(static_cast<bool>(again));
  const auto& r = *again;
  check(r.prompt == turn.prompt);
  check_turn(r, policy);
}

void turn_body(std::string_view body, const decode_policy& policy, turn_route route) {
  auto res = decode_turn_body(body, policy, route, path_id);
  if (!res) return check_error(res.error());
  const auto& t = *res;
  check_turn(t.req, policy);
  if (route == turn_route::fork) check(!t.req.session_id);
  if (route == turn_route::resume && t.req.session_id) check(*t.req.session_id == path_id);
  if (t.at_message_id) check(route == turn_route::fork && lower_uuid(*t.at_message_id));
  rapidjson::Document opts;
  check(json::parse_value(t.options_json, opts) == json::parse_failure::none && opts.IsObject());
  for (const char* gone : {"prompt", "images", "session_id", "metadata", "at_message_id"})
    check(!opts.HasMember(gone));
  check_stored(t.options_json, t.req, policy);
}

void answer(const rapidjson::Value& doc, std::initializer_list<std::string_view> extra) {
  auto res = decode_answer(doc, extra);
  if (!res) return check_error(res.error());
  const auto& a = *res;
  check(a.request_id.size() <= 4 * 200);
  check(json::utf8_length(a.request_id) <= 200);
  check(a.behavior.empty() || a.behavior == "allow" || a.behavior == "deny");
  if (a.updated_input) check(is_object_text(*a.updated_input));
  if (a.answers) check(is_object_text(*a.answers));
}

void control(std::string_view kind, const rapidjson::Value* value, const decode_policy& policy,
             std::string_view field) {
  auto res = decode_control(kind, value, policy, field);
  if (!res) return check_error(res.error());
  const auto& c = *res;
  check(c.kind == kind);
  if (kind == "permission_mode") {
    check(is_permission_mode(c.value));
    if (c.value == "bypassPermissions") check(policy.allow_bypass);
  } else {
    check(c.value == "default" || is_model_name(c.value));
  }
  // The change applied to stored options decodes again under the same policy.
  turn_request turn;
  turn.prompt = "hi";
  for (std::string_view stored : {std::string_view{R"({"model":"sonnet","max_turns":3})"},
                                  std::string_view{"{}"}, std::string_view{"not json"}}) {
    auto updated = apply_to_options(stored, c);
    rapidjson::Document d;
    std::string why;
    check(json::parse_object(updated, d, why));
    check_stored(updated, turn, policy);
  }
}

void http_control(const rapidjson::Document& doc, const decode_policy& policy) {
  // As the route of POST .../control: `type` names the change, one member carries it.
  auto type = doc.FindMember("type");
  if (type == doc.MemberEnd() || !type->value.IsString()) return;
  std::string_view t{type->value.GetString(), type->value.GetStringLength()};
  const char* field = t == "permission_mode_change" ? "permission_mode"
                      : t == "model_change"         ? "model"
                                                    : nullptr;
  if (field == nullptr) return;
  auto m = doc.FindMember(field);
  control(field, m == doc.MemberEnd() ? nullptr : &m->value, policy, field);
}

void keys_body(std::string_view body) {
  rapidjson::Document doc;
  std::string why;
  if (!json::parse_object(body, doc, why)) {
    check(!why.empty());
    return;
  }
  check(doc.IsObject());
  check(json::nesting_depth(body, json::max_depth + 1) <= json::max_depth);
  json::field_errors errors;
  json::field_reader r{doc, errors};
  auto tenant = r.string("tenant", false, 1, 63);
  auto scopes = r.string_list("scopes", true, 2, 10);
  auto name = r.string("name", true, 1, 100);
  r.reject_unknown({"tenant", "scopes", "name"});
  if (tenant) check(json::utf8_length(*tenant) >= 1 && json::utf8_length(*tenant) <= 63);
  if (name) check(json::utf8_length(*name) >= 1 && json::utf8_length(*name) <= 100);
  if (scopes) {
    check(scopes->size() <= 2);
    for (const auto& s : *scopes) check(json::utf8_length(s) <= 10);
  }
  check(errors.ok() == errors.list().empty());
  if (!name || !scopes) check(!errors.ok());
  // A client-chosen member name is named only when it is a plain identifier.
  for (const auto& e : errors.list()) check(json::is_echoable_name(e.field) || e.field == "body");
}

void ws_frame_text(std::string_view text, bool binary, const decode_policy& policy) {
  auto res = decode_ws_frame(text, binary);
  if (!res) return check_error(res.error());
  check(!binary);
  const auto& f = *res;
  if (f.session_id) check(lower_uuid(*f.session_id));
  switch (f.type) {
    case ws_frame_type::subscribe:
      check(f.session_id.has_value());
      check(f.after <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()));
      break;
    case ws_frame_type::ping:
      check(!f.session_id);
      break;
    case ws_frame_type::interrupt:
      break;
    case ws_frame_type::prompt: {
      rapidjson::Document d;
      check(json::parse_value(f.turn_body, d) == json::parse_failure::none && d.IsObject());
      check(!d.HasMember("type"));
      turn_body(f.turn_body, policy, turn_route::query);
      break;
    }
    case ws_frame_type::answer:
      check(f.doc && f.doc->IsObject());
      answer(*f.doc, {"type", "session_id"});
      break;
    case ws_frame_type::control: {
      check(f.doc && f.doc->IsObject());
      const rapidjson::Value& doc = *f.doc;
      auto mode = doc.FindMember("permission_mode");
      auto model = doc.FindMember("model");
      if (mode != doc.MemberEnd())
        control("permission_mode", &mode->value, policy, "permission_mode");
      else if (model != doc.MemberEnd())
        control("model", &model->value, policy, "model");
      break;
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  auto policy = policy_of(data[1]);
  std::string_view body{reinterpret_cast<const char*>(data) + 2, size - 2};
  try {
    switch (data[0] % 8) {
      case 0:
        turn_body(body, policy, turn_route::query);
        break;
      case 1:
        turn_body(body, policy, turn_route::resume);
        break;
      case 2:
        turn_body(body, policy, turn_route::fork);
        break;
      case 3: {
        rapidjson::Document doc;
        std::string why;
        if (json::parse_object(body, doc, why)) answer(doc, {});
        break;
      }
      case 4: {
        rapidjson::Document doc;
        std::string why;
        if (json::parse_object(body, doc, why)) http_control(doc, policy);
        break;
      }
      case 5:
        keys_body(body);
        break;
      case 6:
        ws_frame_text(body, false, policy);
        break;
      case 7:
        ws_frame_text(body, false, policy);
        ws_frame_text(body, true, policy);
        break;
    }
  } catch (...) {
    check(false);  // decoders report errors as values, never as exceptions
  }
  return 0;
}
