#pragma once

// Internal to the session actor's interactive control (session_control.cpp, session_hooks.cpp,
// session_checkpoints.cpp): small JSON readers, writing control lines to the CLI, and the system
// `message` events the control paths emit.

#include "actors/session_impl.hpp"

#include <rapidjson/document.h>

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace caa::detail {

/// Parses `text` into `doc`; whether it is a JSON object.
bool parse_object(std::string_view text, rapidjson::Document& doc);

/// Member `name` of object `v`, or nullptr (also when `v` is not an object).
const rapidjson::Value* member(const rapidjson::Value& v, const char* name);

/// The string member `name` of `v`, or "".
std::string string_member(const rapidjson::Value& v, const char* name);

/// Writes one control line to the current process (a failure is logged: the process is dying
/// and its exit ends the turn).
void write_control(session_self self, const std::string& line);

/// A system `message` event (API.md message type `system`) with a subtype and a text.
api_event system_message(std::string_view subtype, std::string_view text,
                         std::initializer_list<std::pair<const char*, std::string>> extra = {});

/// POSTs a `hook_callback` request of the CLI to its webhook (session_hooks.cpp).
void on_hook_callback(session_self self, const std::string& request_id,
                      const rapidjson::Value& req);

}  // namespace caa::detail
