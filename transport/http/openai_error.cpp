#include "transport/http/openai_error.hpp"

#include "config/json_parse.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cctype>

namespace caa::http {

namespace {

using json_writer = rapidjson::Writer<rapidjson::StringBuffer>;

void put(json_writer& w, const char* key, std::string_view v) {
  w.Key(key);
  w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
}

std::string_view string_of(const rapidjson::Value& obj, const char* key) {
  if (!obj.IsObject()) return {};
  auto it = obj.FindMember(key);
  if (it == obj.MemberEnd() || !it->value.IsString()) return {};
  return {it->value.GetString(), it->value.GetStringLength()};
}

}  // namespace

std::string openai_error_body(std::string_view message, std::string_view type,
                              std::string_view code, std::string_view param) {
  rapidjson::StringBuffer buf;
  json_writer w{buf};
  w.StartObject();
  w.Key("error");
  w.StartObject();
  put(w, "message", message);
  put(w, "type", type);
  put(w, "code", code);
  w.Key("param");
  if (param.empty())
    w.Null();
  else
    w.String(param.data(), static_cast<rapidjson::SizeType>(param.size()));
  w.EndObject();
  w.EndObject();
  return {buf.GetString(), buf.GetSize()};
}

std::string_view openai_error_type(unsigned status) noexcept {
  switch (status) {
    case 401:
      return "invalid_request_error";
    case 402:
      return "insufficient_quota";
    case 403:
      return "permission_error";
    case 404:
      return "not_found_error";
    case 429:
      return "rate_limit_error";
    default:
      return status >= 500 ? "server_error" : "invalid_request_error";
  }
}

response to_openai_error(response envelope) {
  rapidjson::Document doc;
  if (!json::parse_untrusted_object(envelope.body, doc) || !doc.HasMember("error")) return envelope;
  const auto& err = doc["error"];
  std::string code{string_of(err, "code")};
  for (auto& c : code) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::string message{string_of(err, "message")};
  std::string param;
  if (err.HasMember("details") && err["details"].IsObject()) {
    const auto& details = err["details"];
    if (auto it = details.FindMember("errors"); it != details.MemberEnd() && it->value.IsArray()) {
      for (const auto& f : it->value.GetArray()) {
        auto field = string_of(f, "field");
        if (param.empty()) param = field;
        message += " ";
        message += field;
        message += ": ";
        message += string_of(f, "message");
        message += ".";
      }
    }
    if (auto cid = string_of(details, "correlation_id"); !cid.empty()) {
      message += " Correlation id: ";
      message += cid;
      message += ".";
    }
    if (auto resets = string_of(details, "resets_at"); !resets.empty()) {
      message += " Resets at ";
      message += resets;
      message += ".";
    }
  }
  if (envelope.status == 422) envelope.status = 400;
  if (envelope.status == 401) code = "invalid_api_key";
  envelope.body = openai_error_body(message, openai_error_type(envelope.status), code, param);
  return envelope;
}

}  // namespace caa::http
