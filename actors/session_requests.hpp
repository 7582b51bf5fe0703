#pragma once

// The control requests open between a session and its CLI, in both directions.

#include "actors/session_types.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace caa::detail {

/// `can_use_tool` requests of the CLI one session keeps waiting at once; more are denied at once
/// (the CLI's output is the tenant's: a flood must not grow the session's memory).
inline constexpr std::size_t max_pending_requests = 16;
/// Webhook calls (`hook_callback`) of one session in flight at once; more fail as the hook's
/// failure (PreToolUse fails closed).
inline constexpr std::size_t max_hooks_in_flight = 8;

/// A `can_use_tool` request of the CLI waiting for the client's answer.
struct pending_request {
  bool question = false;               ///< AskUserQuestion (a `question` event)
  std::string tool_name;               ///< the tool asked for
  std::string input_json;              ///< the tool input as the CLI sent it (an object)
  std::vector<std::string> questions;  ///< the question texts, in order (questions only)
  uint64_t token = 0;                  ///< identifies its PERMISSION_TIMEOUT deadline
};

/// A webhook registered with the CLI as a hook callback (callback id "hook-<index>").
struct hook_target {
  std::string event;                                         ///< PreToolUse, PostToolUse, ...
  std::string url;                                           ///< checked by the outbound client
  std::vector<std::pair<std::string, std::string>> headers;  ///< secrets: never logged
  int timeout_s = 30;                                        ///< 1..300
};

/// Receives the response to a control request we sent the CLI: ok, then the payload object
/// (success) or the error text.
using control_reply_fn = std::function<void(bool, std::string)>;

/// The control requests open between the session and its CLI: the CLI's `can_use_tool` and
/// `hook_callback` requests, and ours waiting for the CLI's response.
struct session_requests {
  /// `can_use_tool` requests waiting for the client, by the CLI's request id.
  std::map<std::string, pending_request> pending;
  /// The last token given to a pending request.
  uint64_t pending_tokens = 0;
  /// The webhooks of the current process, by callback index.
  std::vector<hook_target> hooks;
  /// Webhook calls in flight: (process generation, CLI request id).
  std::set<std::pair<uint64_t, std::string>> hooks_in_flight;
  /// Our control requests waiting for the CLI's response, by request id.
  std::map<std::string, control_reply_fn> awaiting;

  /// The token of a new pending request.
  uint64_t next_token() noexcept { return ++pending_tokens; }

  /// Whether no request waits for the client and none of ours for the CLI.
  bool quiet() const noexcept { return pending.empty() && awaiting.empty(); }
};

/// The `initialize` hooks of `spec` (empty: none); fills `hooks` with the webhook targets
/// (session_hooks.cpp).
std::string parse_hooks(const turn_spec& spec, std::vector<hook_target>& hooks);

}  // namespace caa::detail
