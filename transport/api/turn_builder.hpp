#pragma once

// From a turn request body to what the session actors take: the decoded request, its stored
// form (`options_json`), the `turn_spec` of one turn and the `new_session` of a new session.
// Pure functions apart from `make_turn_spec`, which checks the request's paths on disk.

#include "actors/session_types.hpp"
#include "config/settings.hpp"
#include "transport/api/query_request.hpp"
#include "transport/sandbox/workspace.hpp"

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace caa::api {

/// Which route a turn body came to; decides which extra members it may carry.
enum class turn_route : uint8_t {
  query,   ///< `POST /api/v1/query`, `/query/single`: `session_id` allowed
  resume,  ///< `POST .../{id}/resume`: `session_id`, if given, must be the path's id
  fork,    ///< `POST .../{id}/fork`: `at_message_id` allowed, `session_id` refused
};

/// A decoded turn body.
struct decoded_turn {
  turn_request req;                          ///< validated fields
  std::string options_json;                  ///< the body minus prompt, images, session_id,
                                             ///< metadata and at_message_id (compact JSON)
  bool has_spawn_options = false;            ///< any other non-null member present
  std::optional<std::string> at_message_id;  ///< fork only: lower-case UUID
};

/// Decodes a turn body of `route` (the path id `path_id` for resume). Errors: bad_request
/// (unparsable JSON), validation (every bad field).
caf::expected<decoded_turn> decode_turn_body(std::string_view body, const decode_policy& policy,
                                             turn_route route, std::string_view path_id = {});

/// Re-decodes a session's stored `options_json` with the prompt and images of `turn`, so the
/// process of a continued session is spawned with its original options. Errors: validation (a
/// stored option the caller's policy no longer allows), internal (unreadable stored options).
caf::expected<turn_request> with_stored_options(std::string_view stored_options_json,
                                                const turn_request& turn,
                                                const decode_policy& policy);

/// The `turn_spec` of `req`: its paths resolved beneath the tenant's workspace (refusals are
/// field errors, 422), the driver configured from `cfg` (CLI path, tenant config/home/tmp
/// directories, Anthropic key and base URL, bubblewrap on), for the caller of `policy` (its
/// tenant name and sandbox slot). Touches the disk: never call it on an I/O thread.
caf::expected<turn_spec_ptr> make_turn_spec(const turn_request& req, std::string options_json,
                                            const settings& cfg, const tenant_workspace& ws,
                                            std::string_view tenant_id,
                                            const decode_policy& policy);

/// The spec of a turn another node forwarded: its stored-form options decoded with the policy
/// of its tenant here (as a session's stored options are), its paths resolved in `ws`.
caf::expected<turn_spec_ptr> rebuild_turn(const portable_turn& turn, const settings& cfg,
                                          const tenant_workspace& ws);

/// The `new_session` of a first turn `spec` of `req` for `tenant_id`.
new_session make_new_session(const turn_request& req, const turn_spec& spec, std::string tenant_id);

}  // namespace caa::api
