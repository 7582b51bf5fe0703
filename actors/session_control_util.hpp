#pragma once

// Internal to the session actor's interactive control (session_control.cpp, session_hooks.cpp,
// session_checkpoints.cpp): the JSON readers they share, writing control lines to the CLI, and
// the API events the control paths emit (built in transport/json/api_events.hpp).

#include "actors/session_impl.hpp"
#include "transport/json/api_events.hpp"
#include "transport/json/json.hpp"

#include <rapidjson/document.h>

#include <string>
#include <string_view>

namespace caa::detail {

/// Parses `text` into `doc`; whether it is a JSON object.
bool parse_object(std::string_view text, rapidjson::Document& doc);

/// The JSON member readers of the wire layer (`member`, `string_member`).
using json::member;
using json::string_member;

/// Writes one control line to the current process (a failure is logged: the process is dying
/// and its exit ends the turn).
void write_control(session_self self, const std::string& line);

/// POSTs a `hook_callback` request of the CLI to its webhook (session_hooks.cpp).
void on_hook_callback(session_self self, const std::string& request_id,
                      const rapidjson::Value& req);

}  // namespace caa::detail
