#pragma once

// The API event codec for the CLI's output: one classified stream-json line of the Claude Code CLI
// becomes zero or more events of the API stream (API.md "SSE stream").

#include "transport/claude/control.hpp"
#include "transport/json/api_events.hpp"

#include <string>
#include <vector>

namespace caa {

/// What the mapper needs to know about the session, and what it remembers per process.
struct mapper_state {
  std::string session_id;       ///< the API session id (never the CLI's)
  std::string cwd_relative;     ///< the cwd as the client knows it
  double process_cost_usd = 0;  ///< the CLI's cumulative cost so far (reset per process)
};

/// Maps one classified CLI stdout line to zero or more API events: `init`, `message`,
/// `partial`, `todo`, `task`, `result`. Control messages, transcript frames and keep-alives
/// map to nothing (the session actor handles them). `done` is the session's, not the mapper's.
std::vector<api_event> map_cli_message(const claude::cli_message& msg, mapper_state& state);

}  // namespace caa
