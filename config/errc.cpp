#include "config/errc.hpp"

#include <caf/atom.hpp>
#include <caf/make_message.hpp>
#include <caf/message.hpp>
#include <caf/sec.hpp>

namespace caa {

std::string_view to_string(errc x) noexcept {
  switch (x) {
    case errc::none:
      return "none";
    case errc::validation:
      return "validation";
    case errc::bad_request:
      return "bad_request";
    case errc::unauthenticated:
      return "unauthenticated";
    case errc::forbidden:
      return "forbidden";
    case errc::not_found:
      return "not_found";
    case errc::session_not_found:
      return "session_not_found";
    case errc::checkpoint_not_found:
      return "checkpoint_not_found";
    case errc::method_not_allowed:
      return "method_not_allowed";
    case errc::session_locked:
      return "session_locked";
    case errc::session_idle:
      return "session_idle";
    case errc::conflict:
      return "conflict";
    case errc::payload_too_large:
      return "payload_too_large";
    case errc::rate_limited:
      return "rate_limited";
    case errc::capacity_exhausted:
      return "capacity_exhausted";
    case errc::unavailable:
      return "unavailable";
    case errc::timeout:
      return "timeout";
    case errc::agent_error:
      return "agent_error";
    case errc::internal:
      return "internal";
    case errc::quota_exceeded:
      return "quota_exceeded";
    case errc::tenant_capacity:
      return "tenant_capacity";
    case errc::too_many_connections:
      return "too_many_connections";
    case errc::fenced:
      return "fenced";
    case errc::budget_exceeded:
      return "budget_exceeded";
  }
  return "internal";
}

caf::error make_error(errc x, std::string context) {
  if (context.empty()) return caf::error{static_cast<uint8_t>(x), errc_category};
  return caf::error{static_cast<uint8_t>(x), errc_category, caf::make_message(std::move(context))};
}

errc errc_of(const caf::error& e) noexcept {
  if (!e) return errc::none;
  // An actor that ended between a lookup and a request (a session actor retires after a quiet
  // minute; the registry revives it on the next request): retryable, not an internal error.
  if (e.category() == caf::atom("system") &&
      e.code() == static_cast<uint8_t>(caf::sec::request_receiver_down))
    return errc::unavailable;
  if (e.category() != errc_category) return errc::internal;
  return static_cast<errc>(e.code());
}

std::string render_errc(uint8_t code, const caf::message& context) {
  std::string out{to_string(static_cast<errc>(code))};
  if (!context.empty() && context.match_element<std::string>(0)) {
    out += ": ";
    out += context.get_as<std::string>(0);
  }
  return out;
}

}  // namespace caa
