#pragma once

// Response bodies of the session routes, as pure functions (unit-tested without a server).

#include "storage/postgres/event_queries.hpp"
#include "storage/postgres/session_queries.hpp"
#include "transport/api/query_request.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace caa::api {

/// The pinned Claude Code CLI version the service drives.
inline constexpr std::string_view cli_version = "2.1.197";

/// One session: id, status, model, cwd (relative; "." for the workspace root),
/// parent_session_id, created_at, updated_at, total_turns, total_cost_usd, usage, title, tags,
/// last_event_id.
std::string session_json(const storage::session_record& s);

/// `{"sessions":[...],"total":N,"page":P,"page_size":S}`.
std::string session_list_json(const storage::session_page& page, long long page_no,
                              long long page_size);

/// `{"events":[{"id":seq,"event":name,"data":{...}}],"next_after":N,"has_more":bool}`:
/// `next_after` is the last event's id (or `after` when the page is empty), `has_more` whether
/// the session has stored events beyond this page.
std::string event_page_json(const storage::event_page& page, uint64_t after);

/// `GET /api/v1/capabilities`: what the server itself knows, marked `"source":"static"`
/// (permission modes allowed by `policy`, models accepted, the CLI version, setting sources,
/// whether MCP servers and hooks are enabled). Tools, agents, skills, slash commands and MCP
/// server status come from the CLI and are in each turn's `init` event.
std::string capabilities_json(const decode_policy& policy, const std::string& engine_json);

}  // namespace caa::api
