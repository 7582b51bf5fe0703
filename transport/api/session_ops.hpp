#pragma once

// The interactive operations on a session that HTTP routes and WebSocket frames share (API.md
// answer, control, rewind): strict decoders of their bodies, and the asynchronous steps that
// reach the session's actor.

#include "actors/session_types.hpp"
#include "transport/api/query_request.hpp"
#include "transport/api/session_flow.hpp"

#include <rapidjson/document.h>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>

namespace caa::api {

/// Decodes an answer object: `request_id` (1..200 characters), `behavior` (`allow`|`deny`),
/// `updated_input` (object), `message` (string), `answers` (object of question text -> label or
/// list of labels), or `answer` (text, for the one pending question). Unknown members are
/// refused unless named in `extra`. Error: one validation_error listing every bad field.
caf::expected<pending_answer> decode_answer(const rapidjson::Value& obj,
                                            std::initializer_list<std::string_view> extra = {});

/// A live change: `kind` is "permission_mode" (one of the modes, `bypassPermissions` only when
/// `policy` allows it) or "model" (a model name or "default"). Error: validation (field `field`).
caf::expected<live_control> decode_control(std::string_view kind, const rapidjson::Value* value,
                                           const decode_policy& policy, std::string_view field);

/// `options_json` (stored spawn options) with the change of `c` applied.
std::string apply_to_options(std::string_view options_json, const live_control& c);

namespace detail {

/// Sends `answer` to session `id` of `tenant_id`; `ok` on success. Errors: session_not_found,
/// session_idle (no such pending request), validation.
void answer_session(const session_api_ptr& api, std::string tenant_id, std::string id,
                    pending_answer answer, const std::function<void()>& ok, const error_fn& fail);

/// Applies `c` to session `id` of `tenant_id`: stores it with the session's options and changes
/// the live process; `ok` gets "applied" (live) or "stored" (next spawn).
void control_session(const session_api_ptr& api, const std::string& tenant_id,
                     const std::string& id, live_control c,
                     const std::function<void(std::string)>& ok, const error_fn& fail);

/// Adds `POST .../{id}/answer`, `.../{id}/control`, `.../{id}/rewind` and
/// `GET .../{id}/checkpoints`.
void add_control_routes(http::router& r, const session_api_ptr& api);

}  // namespace detail

}  // namespace caa::api
