#pragma once

// Internal to the turn-request decoder: one function per request field. Each takes the field's
// (non-null) JSON value, appends field errors to the context and stores what it validated into
// the request. Field names in errors are fixed texts or names that passed validation: a
// malformed client-chosen name is never echoed (unknown members: `json::field_errors`).

#include "transport/api/query_request.hpp"
#include "transport/json/json.hpp"

#include <rapidjson/document.h>

#include <string>
#include <string_view>
#include <vector>

namespace caa::api::detail {

/// The errors of one request, and the policy it is decoded under.
struct decode_context {
  const decode_policy& policy;  ///< what the tenant and operator allow
  json::field_errors errors;    ///< every problem found, in order

  /// Records that `field` is invalid.
  void fail(std::string field, std::string message) {
    errors.fail(std::move(field), std::move(message));
  }
};

/// The signature of a field decoder.
using field_decoder = void (*)(const rapidjson::Value& v, decode_context& ctx, turn_request& req);

/// The text of string value `v`.
inline std::string_view text_of(const rapidjson::Value& v) {
  return {v.GetString(), v.GetStringLength()};
}

/// Whether any object inside `v` (itself included) repeats a key.
bool has_duplicate_keys(const rapidjson::Value& v);

/// Whether `s` contains a C0 control character (NUL included) or DEL.
bool has_control(std::string_view s) noexcept;

/// Whether `s` is 1..`max` bytes of `[A-Za-z0-9_-]`.
bool is_segment(std::string_view s, std::size_t max = 64) noexcept;

/// Appends the errors of `claude::validate_env`, renaming their leading "env" to `path`.
void add_env_errors(const std::vector<claude::field_error>& errs, const std::string& path,
                    decode_context& ctx);

/// Reads an env map at `path` (object of strings), validated with `claude::validate_env`.
std::map<std::string, std::string> read_env(const rapidjson::Value& v, const std::string& path,
                                            decode_context& ctx);

/// Reads a list of tool names at `path`; `forbid_agents` refuses `Task` and `Agent`.
std::vector<std::string> read_tools(const rapidjson::Value& v, const std::string& path,
                                    bool forbid_agents, decode_context& ctx);

// query_decode_core.cpp
void decode_prompt(const rapidjson::Value& v, decode_context& ctx, turn_request& req);
void decode_images(const rapidjson::Value& v, decode_context& ctx, turn_request& req);
void decode_model(const rapidjson::Value& v, decode_context& ctx, turn_request& req);
void decode_permission_mode(const rapidjson::Value& v, decode_context& ctx, turn_request& req);
void decode_allowed_tools(const rapidjson::Value& v, decode_context& ctx, turn_request& req);
void decode_disallowed_tools(const rapidjson::Value& v, decode_context& ctx, turn_request& req);
void decode_env(const rapidjson::Value& v, decode_context& ctx, turn_request& req);
void decode_cwd(const rapidjson::Value& v, decode_context& ctx, turn_request& req);
void decode_add_dirs(const rapidjson::Value& v, decode_context& ctx, turn_request& req);
void decode_plugins(const rapidjson::Value& v, decode_context& ctx, turn_request& req);
void decode_setting_sources(const rapidjson::Value& v, decode_context& ctx, turn_request& req);
void decode_metadata(const rapidjson::Value& v, decode_context& ctx, turn_request& req);

// query_decode_ext.cpp
void decode_system_prompt(const rapidjson::Value& v, decode_context& ctx, turn_request& req);
void decode_agents(const rapidjson::Value& v, decode_context& ctx, turn_request& req);
void decode_output_format(const rapidjson::Value& v, decode_context& ctx, turn_request& req);

// query_decode_remote.cpp
void decode_mcp_servers(const rapidjson::Value& v, decode_context& ctx, turn_request& req);
void decode_hooks(const rapidjson::Value& v, decode_context& ctx, turn_request& req);

}  // namespace caa::api::detail
