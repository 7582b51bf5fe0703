#pragma once

// Starting a CLI process, shared by the session actors and the warm pool (cli_start.cpp).

#include "actors/cli_launcher.hpp"
#include "actors/session_types.hpp"

#include <caf/actor_addr.hpp>

#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace caa {

struct session_identity;

/// Starts the CLI through `launcher` with `opts` and the driver of `spec`, sends its lines and
/// exit to whatever `route` names at the time, and writes `initialize` (with `hooks_json`, may
/// be empty). Null when it could not start (logged).
std::shared_ptr<cli_process> start_cli(cli_launcher& launcher, const claude::query_options& opts,
                                       const turn_spec& spec,
                                       const std::shared_ptr<cli_route>& route,
                                       std::string_view hooks_json, std::string_view request_id);

/// The driver settings of a spawn with `opts` for `spec`.
claude::driver_config spawn_driver(const claude::query_options& opts, const turn_spec& spec);

/// A CLI being started off its owner's thread (`start_cli_for`), with what serving it needs.
struct cli_start_ticket {
  claude::query_options opts;        ///< what it is started with
  std::shared_ptr<cli_route> route;  ///< where its lines and exit go once served
  std::string hooks_json;            ///< its `initialize` hooks object (may be empty)
  std::string request_id;            ///< of its `initialize` request
  /// The start itself: `launched` arrives once it ended (never when it was discarded before).
  /// Dropped unserved, the process is killed.
  std::shared_ptr<pending_start> start;

  /// Once `launched` arrived: serves the process (its lines and exit go to `route`) and writes
  /// `initialize`. Null when it could not start (logged).
  std::shared_ptr<cli_process> serve() const;
  /// Instead of `serve`, at any time: kills the process (now, or when its start ends); `gone`
  /// runs once it has been reaped (at once when none was started).
  void discard(std::function<void()> gone) const;
};

/// Has `launcher` start the CLI with `opts` and `spawn_driver(opts, spec)` off the caller's
/// thread; `(launched, id)` goes to `owner` (when it still lives) once the ticket's result is in.
cli_start_ticket start_cli_for(cli_launcher& launcher, const claude::query_options& opts,
                               const turn_spec& spec, std::shared_ptr<cli_route> route,
                               std::string hooks_json, std::string request_id,
                               const caf::actor_addr& owner, uint64_t id);

/// The options of a spawn of session `who` for `spec`: the turn's, plus how the CLI finds (or
/// forks) the session's transcript.
claude::query_options session_spawn_options(const session_identity& who, const turn_spec& spec);

/// The spawn options of a brand-new session `id` for `spec` (what its first spawn would use).
claude::query_options fresh_session_options(const turn_spec& spec, const std::string& id);

/// The `initialize` hooks object for the webhooks of `spec` (empty when it has none); callback
/// ids are "hook-<index>" in the order of the request.
std::string hooks_init_json(const turn_spec& spec);

}  // namespace caa
