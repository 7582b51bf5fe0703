#include "transport/api/ws_frames.hpp"

#include "transport/http/error_catalog.hpp"
#include "transport/json/json.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cctype>
#include <limits>
#include <set>

namespace caa::api {

namespace {

using writer = rapidjson::Writer<rapidjson::StringBuffer>;

/// A validation error of one field.
caf::error field_problem(std::string field, std::string message) {
  return caa::validation_error({{std::move(field), std::move(message)}});
}

std::optional<ws_frame_type> frame_type_of(std::string_view name) {
  for (auto t : {ws_frame_type::prompt, ws_frame_type::interrupt, ws_frame_type::answer,
                 ws_frame_type::control, ws_frame_type::subscribe, ws_frame_type::ping})
    if (to_string(t) == name) return t;
  return std::nullopt;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

/// Checks the envelope members of a frame that is not a prompt.
std::optional<caf::error> read_envelope(const rapidjson::Document& doc, ws_frame& out) {
  json::field_errors errors;
  json::field_reader r{doc, errors};
  bool need_id = out.type == ws_frame_type::subscribe;
  if (out.type != ws_frame_type::ping)
    if (auto id = r.uuid("session_id", need_id)) out.session_id = lower(*id);
  if (out.type == ws_frame_type::subscribe) {
    if (auto after = r.integer("after", false, 0, std::numeric_limits<int64_t>::max()))
      out.after = static_cast<uint64_t>(*after);
    r.reject_unknown({"type", "session_id", "after"});
  } else if (out.type == ws_frame_type::interrupt) {
    r.reject_unknown({"type", "session_id"});
  } else if (out.type == ws_frame_type::ping) {
    r.reject_unknown({"type"});
  }
  if (!errors.ok()) return caa::validation_error(errors.take());
  return std::nullopt;
}

/// Writes the `details` member of the error frame of `e`, if it has any.
void write_details(writer& w, const caf::error& e, errc code, std::string_view correlation_id) {
  if (code == errc::internal) {
    w.Key("details");
    w.StartObject();
    w.Key("correlation_id");
    w.String(correlation_id.data(), static_cast<rapidjson::SizeType>(correlation_id.size()));
    w.EndObject();
    return;
  }
  auto fields = caa::fields_of(e);
  auto retry = caa::retry_after_of(e);
  auto budget = caa::budget_of(e);
  if (fields.empty() && !retry && !budget) return;
  w.Key("details");
  w.StartObject();
  if (!fields.empty()) {
    w.Key("errors");
    w.StartArray();
    for (const auto& f : fields) {
      w.StartObject();
      w.Key("field");
      w.String(f.field.c_str(), static_cast<rapidjson::SizeType>(f.field.size()));
      w.Key("message");
      w.String(f.message.c_str(), static_cast<rapidjson::SizeType>(f.message.size()));
      w.EndObject();
    }
    w.EndArray();
  }
  if (retry) {
    w.Key("retry_after");
    w.Uint(*retry);
  }
  if (budget) {
    w.Key("cap");
    w.String(budget->cap.c_str(), static_cast<rapidjson::SizeType>(budget->cap.size()));
    w.Key("resets_at");
    w.String(budget->resets_at.c_str(), static_cast<rapidjson::SizeType>(budget->resets_at.size()));
  }
  w.EndObject();
}

void write_string(writer& w, const char* key, std::string_view value) {
  w.Key(key);
  w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
}

}  // namespace

std::string_view to_string(ws_frame_type x) noexcept {
  switch (x) {
    case ws_frame_type::prompt:
      return "prompt";
    case ws_frame_type::interrupt:
      return "interrupt";
    case ws_frame_type::answer:
      return "answer";
    case ws_frame_type::control:
      return "control";
    case ws_frame_type::subscribe:
      return "subscribe";
    case ws_frame_type::ping:
      return "ping";
  }
  return "ping";
}

caf::expected<ws_frame> decode_ws_frame(std::string_view text, bool binary) {
  if (binary) return field_problem("frame", "must be a text frame holding a JSON object");
  auto doc = std::make_shared<rapidjson::Document>();
  std::string why;
  if (!json::parse_object(text, *doc, why))
    return field_problem("frame", "must be one JSON object");
  auto type = doc->FindMember("type");
  if (type == doc->MemberEnd() || !type->value.IsString())
    return field_problem("type", "is required: a string");
  auto kind = frame_type_of({type->value.GetString(), type->value.GetStringLength()});
  if (!kind)
    return field_problem("type",
                         "must be one of prompt, interrupt, answer, control, subscribe, "
                         "ping");
  ws_frame out;
  out.type = *kind;
  if (out.type == ws_frame_type::prompt) {
    doc->RemoveMember("type");
    out.turn_body = json::to_string(*doc);  // session_id and the turn fields: the turn decoder
    return out;
  }
  if (auto e = read_envelope(*doc, out)) return std::move(*e);
  if (out.type == ws_frame_type::answer || out.type == ws_frame_type::control)
    out.doc = std::move(doc);
  return out;
}

std::string ws_event_frame(std::string_view session_id, uint64_t seq, std::string_view name,
                           std::string_view data) {
  std::string out;
  out.reserve(data.size() + name.size() + session_id.size() + 64);
  out += R"({"type":"event","session_id":)";
  out += json::quote(session_id);
  out += R"(,"id":)";
  out += std::to_string(seq);
  out += R"(,"event":)";
  out += json::quote(name);
  out += R"(,"data":)";
  out += data.empty() ? std::string_view{"{}"} : data;  // the stored event JSON, verbatim
  out += '}';
  return out;
}

std::string ws_ack_frame(std::string_view for_type, std::string_view session_id) {
  rapidjson::StringBuffer buf;
  writer w{buf};
  w.StartObject();
  write_string(w, "type", "ack");
  write_string(w, "for", for_type);
  if (!session_id.empty()) write_string(w, "session_id", session_id);
  w.EndObject();
  return {buf.GetString(), buf.GetSize()};
}

std::string ws_error_frame(const caf::error& e, std::string_view for_type,
                           std::string_view session_id, std::string_view correlation_id) {
  auto code = errc_of(e);
  const auto& entry = http::catalog_of(code);
  rapidjson::StringBuffer buf;
  writer w{buf};
  w.StartObject();
  write_string(w, "type", "error");
  write_string(w, "code", entry.code);
  write_string(w, "message", http::public_message(e));
  if (!for_type.empty()) write_string(w, "for", for_type);
  if (!session_id.empty()) write_string(w, "session_id", session_id);
  write_details(w, e, code, correlation_id);
  w.EndObject();
  return {buf.GetString(), buf.GetSize()};
}

std::string ws_pong_frame() {
  return R"({"type":"pong"})";
}

}  // namespace caa::api
