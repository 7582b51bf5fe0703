#pragma once

// Helpers shared by the turn-request tests.

#include "transport/api/query_request.hpp"
#include "transport/http/error_catalog.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

namespace caa::api::test {

/// A policy that allows everything the decoder can gate.
inline decode_policy open_policy() {
  decode_policy p;
  p.allow_bypass = true;
  p.mcp_servers_enabled = true;
  p.hooks_enabled = true;
  p.mcp_stdio_commands = {"/usr/local/bin/mcp-files"};
  return p;
}

/// "{"prompt":"hi", <members>}".
inline std::string with(std::string_view members) {
  return std::string{R"({"prompt":"hi",)"} + std::string{members} + "}";
}

/// Renders field errors for failure messages.
inline std::string dump(const std::vector<caa::field_error>& errs) {
  std::string out;
  for (const auto& e : errs) out += e.field + ": " + e.message + "\n";
  return out;
}

/// Decodes `body`, expecting success.
inline turn_request accept(std::string_view body, const decode_policy& p = {}) {
  auto r = decode_turn_request(body, p);
  if (!r) {
    ADD_FAILURE() << "refused " << body.substr(0, 300) << ":\n" << dump(caa::fields_of(r.error()));
    return {};
  }
  return std::move(*r);
}

/// Decodes `body`, expecting a 422; returns its field errors.
inline std::vector<caa::field_error> refuse(std::string_view body, const decode_policy& p = {}) {
  auto r = decode_turn_request(body, p);
  if (r) {
    ADD_FAILURE() << "accepted " << body.substr(0, 300);
    return {};
  }
  EXPECT_EQ(errc_of(r.error()), errc::validation) << body.substr(0, 300);
  return caa::fields_of(r.error());
}

/// Expects exactly one field error, on `field`; returns its message.
inline std::string refuse_one(std::string_view body, std::string_view field,
                              const decode_policy& p = {}) {
  auto errs = refuse(body, p);
  EXPECT_EQ(errs.size(), 1u) << body.substr(0, 300) << "\n" << dump(errs);
  if (errs.empty()) return {};
  EXPECT_EQ(errs[0].field, field) << body.substr(0, 300) << "\n" << dump(errs);
  return errs[0].message;
}

/// Whether `errs` names `field`.
inline bool names(const std::vector<caa::field_error>& errs, std::string_view field) {
  return std::any_of(errs.begin(), errs.end(), [&](const auto& e) { return e.field == field; });
}

}  // namespace caa::api::test
