#include "transport/http/error_catalog.hpp"

#include <caf/atom.hpp>
#include <caf/message.hpp>
#include <caf/message_builder.hpp>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cmath>

namespace caa::http {

namespace {

constexpr catalog_entry internal_entry{500, "INTERNAL_ERROR", "An internal error occurred."};

using json_writer = rapidjson::Writer<rapidjson::StringBuffer>;

/// Whether status `s` always carries `Retry-After`.
bool needs_retry_after(unsigned status, errc x) {
  return status == 429 || status == 503 || x == errc::session_locked;
}

/// Serialises `details.errors` of a validation error.
std::string validation_details(const std::vector<field_error>& fields) {
  rapidjson::StringBuffer buf;
  json_writer w{buf};
  w.StartObject();
  w.Key("errors");
  w.StartArray();
  for (const auto& f : fields) {
    w.StartObject();
    w.Key("field");
    w.String(f.field.data(), static_cast<rapidjson::SizeType>(f.field.size()));
    w.Key("message");
    w.String(f.message.data(), static_cast<rapidjson::SizeType>(f.message.size()));
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return buf.GetString();
}

/// Serialises `{"correlation_id": id}`.
std::string correlation_details(std::string_view correlation_id) {
  rapidjson::StringBuffer buf;
  json_writer w{buf};
  w.StartObject();
  w.Key("correlation_id");
  w.String(correlation_id.data(), static_cast<rapidjson::SizeType>(correlation_id.size()));
  w.EndObject();
  return buf.GetString();
}

/// Serialises `{"cap": ..., "resets_at": ...}`.
std::string budget_details(const budget_detail& b) {
  rapidjson::StringBuffer buf;
  json_writer w{buf};
  w.StartObject();
  w.Key("cap");
  w.String(b.cap.data(), static_cast<rapidjson::SizeType>(b.cap.size()));
  w.Key("resets_at");
  w.String(b.resets_at.data(), static_cast<rapidjson::SizeType>(b.resets_at.size()));
  w.EndObject();
  return buf.GetString();
}

}  // namespace

std::string public_message(const caf::error& e) {
  const auto& entry = catalog_of(errc_of(e));
  auto budget = budget_of(e);
  if (!budget) return std::string{entry.message};
  auto window = budget->cap == "daily_usd" ? "daily" : "monthly";
  return std::string{"The tenant reached its "} + window + " spend cap (" + budget->cap +
         "); the window resets at " + budget->resets_at + ".";
}

const catalog_entry& catalog_of(errc x) noexcept {
  static constexpr catalog_entry validation{422, "VALIDATION_ERROR", "The request is invalid."};
  static constexpr catalog_entry bad_request{400, "BAD_REQUEST", "The request is malformed."};
  static constexpr catalog_entry unauthenticated{401, "AUTHENTICATION_ERROR",
                                                 "A valid API key is required."};
  static constexpr catalog_entry forbidden{403, "FORBIDDEN",
                                           "The API key lacks the scope for this operation."};
  static constexpr catalog_entry not_found{404, "NOT_FOUND", "The resource does not exist."};
  static constexpr catalog_entry session_not_found{404, "SESSION_NOT_FOUND",
                                                   "The session does not exist."};
  static constexpr catalog_entry checkpoint_not_found{404, "CHECKPOINT_NOT_FOUND",
                                                      "The checkpoint does not exist."};
  static constexpr catalog_entry method_not_allowed{405, "METHOD_NOT_ALLOWED",
                                                    "The method is not allowed on this path."};
  static constexpr catalog_entry session_locked{409, "SESSION_LOCKED",
                                                "A turn is already running in this session."};
  static constexpr catalog_entry session_idle{409, "SESSION_IDLE",
                                              "The session has nothing to act on."};
  static constexpr catalog_entry conflict{409, "CONFLICT",
                                          "The request conflicts with the current state."};
  static constexpr catalog_entry payload_too_large{413, "PAYLOAD_TOO_LARGE",
                                                   "The request body is too large."};
  static constexpr catalog_entry rate_limited{429, "RATE_LIMIT_EXCEEDED",
                                              "Too many requests; retry later."};
  static constexpr catalog_entry capacity_exhausted{503, "CAPACITY_EXHAUSTED",
                                                    "No agent capacity is available; retry later."};
  static constexpr catalog_entry unavailable{503, "SERVICE_UNAVAILABLE",
                                             "The service is unavailable; retry later."};
  static constexpr catalog_entry agent_error{502, "AGENT_ERROR", "The agent process failed."};
  static constexpr catalog_entry quota_exceeded{
      507, "QUOTA_EXCEEDED",
      "The tenant's workspace is over its disk quota; free space before starting a turn."};
  static constexpr catalog_entry tenant_capacity{
      429, "TENANT_CAPACITY",
      "The tenant holds its share of agent processes; retry when one of its turns ends."};
  static constexpr catalog_entry budget_exceeded{
      402, "BUDGET_EXCEEDED", "The tenant reached a spend cap; retry when its window resets."};
  static constexpr catalog_entry too_many_connections{
      429, "TOO_MANY_CONNECTIONS", "Too many open connections from this address."};
  switch (x) {
    case errc::validation:
      return validation;
    case errc::bad_request:
      return bad_request;
    case errc::unauthenticated:
      return unauthenticated;
    case errc::forbidden:
      return forbidden;
    case errc::not_found:
      return not_found;
    case errc::session_not_found:
      return session_not_found;
    case errc::checkpoint_not_found:
      return checkpoint_not_found;
    case errc::method_not_allowed:
      return method_not_allowed;
    case errc::session_locked:
      return session_locked;
    case errc::session_idle:
      return session_idle;
    case errc::conflict:
      return conflict;
    case errc::payload_too_large:
      return payload_too_large;
    case errc::rate_limited:
      return rate_limited;
    case errc::capacity_exhausted:
      return capacity_exhausted;
    case errc::unavailable:
    case errc::timeout:  // an internal deadline is the same 503 to a client
    case errc::fenced:   // the session moved to another node: a retry reaches it there
      return unavailable;
    case errc::agent_error:
      return agent_error;
    case errc::quota_exceeded:
      return quota_exceeded;
    case errc::tenant_capacity:
      return tenant_capacity;
    case errc::too_many_connections:
      return too_many_connections;
    case errc::budget_exceeded:
      return budget_exceeded;
    case errc::none:
    case errc::internal:
      return internal_entry;
  }
  return internal_entry;
}

const catalog_entry& catalog_of(edge_condition x) noexcept {
  static constexpr catalog_entry request_timeout{408, "REQUEST_TIMEOUT",
                                                 "The request was not received in time."};
  static constexpr catalog_entry uri_too_long{414, "URI_TOO_LONG",
                                              "The request target is too long."};
  static constexpr catalog_entry headers_too_large{431, "HEADERS_TOO_LARGE",
                                                   "The request headers are too large."};
  switch (x) {
    case edge_condition::request_timeout:
      return request_timeout;
    case edge_condition::uri_too_long:
      return uri_too_long;
    case edge_condition::headers_too_large:
      return headers_too_large;
  }
  return internal_entry;
}

std::string error_envelope(const catalog_entry& entry, std::string_view details_json) {
  rapidjson::StringBuffer buf;
  json_writer w{buf};
  w.StartObject();
  w.Key("error");
  w.StartObject();
  w.Key("code");
  w.String(entry.code.data(), static_cast<rapidjson::SizeType>(entry.code.size()));
  w.Key("message");
  w.String(entry.message.data(), static_cast<rapidjson::SizeType>(entry.message.size()));
  w.Key("details");
  w.RawValue(details_json.data(), details_json.size(), rapidjson::kObjectType);
  w.EndObject();
  w.EndObject();
  return buf.GetString();
}

response error_response(const caf::error& e, std::string_view correlation_id) {
  auto x = errc_of(e);
  const auto& entry = catalog_of(x);
  response r;
  r.status = entry.status;
  if (entry.status == 500)
    r.body = error_envelope(entry, correlation_details(correlation_id));
  else if (x == errc::validation)
    r.body = error_envelope(entry, validation_details(fields_of(e)));
  else if (auto budget = budget_of(e)) {
    auto message = public_message(e);
    r.body = error_envelope({entry.status, entry.code, message}, budget_details(*budget));
  } else
    r.body = error_envelope(entry, "{}");
  if (auto hint = retry_after_of(e); hint || needs_retry_after(entry.status, x))
    r.headers.emplace_back("Retry-After", std::to_string(hint ? std::max<uint32_t>(*hint, 1) : 1));
  return r;
}

response error_response(edge_condition x, std::string_view) {
  response r;
  const auto& entry = catalog_of(x);
  r.status = entry.status;
  r.body = error_envelope(entry, "{}");
  return r;
}

}  // namespace caa::http
