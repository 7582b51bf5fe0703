#include "actors/cli_start.hpp"

#include "actors/inline_unit.hpp"
#include "actors/session.hpp"
#include "actors/session_requests.hpp"
#include "config/errc.hpp"
#include "config/logging.hpp"
#include "transport/claude/control.hpp"

#include <caf/all.hpp>

namespace caa {

claude::query_options session_spawn_options(const session_identity& who, const turn_spec& spec) {
  auto opts = spec.options;
  opts.session_mirror = true;  // transcript lines go to PostgreSQL too
  opts.session_id.reset();
  opts.resume.reset();
  opts.fork_session = false;
  opts.resume_session_at.reset();
  if (who.cli_session_started) {
    opts.resume = who.id;
  } else if (who.parent_session_id) {
    opts.resume = *who.parent_session_id;
    opts.fork_session = true;
    opts.resume_session_at = who.fork_at_message;
    opts.session_id = who.id;  // the fork's CLI id is our id (verified with 2.1.197)
  } else {
    opts.session_id = who.id;
  }
  // Tools that need approval are asked of the client (a `permission_request`), except where
  // the mode decides alone: bypass runs everything, dontAsk denies what is not pre-approved.
  auto mode = opts.permission_mode.value_or("default");
  opts.permission_prompt_stdio = mode != "bypassPermissions" && mode != "dontAsk";
  return opts;
}

claude::query_options fresh_session_options(const turn_spec& spec, const std::string& id) {
  session_identity blank;
  blank.id = id;
  return session_spawn_options(blank, spec);
}

std::string hooks_init_json(const turn_spec& spec) {
  std::vector<detail::hook_target> hooks;
  return detail::parse_hooks(spec, hooks);
}

namespace {

/// The process callbacks that send its lines and exit to whatever `route` names at the time.
claude::process_callbacks route_callbacks(const std::shared_ptr<cli_route>& route) {
  claude::process_callbacks cb;
  cb.on_lines = [route](std::vector<std::string> lines) {
    auto [addr, gen] = route->get();
    // On an agent I/O thread the session then runs there (inline_unit).
    if (auto a = caf::actor_cast<caf::actor>(addr))
      inline_unit::send(a, atom::line_v, gen, std::move(lines));
  };
  cb.on_exit = [route](claude::exit_info info) {
    auto [addr, gen] = route->get();
    if (auto a = caf::actor_cast<caf::actor>(addr)) {
      int32_t code = info.exit_code >= 0 ? info.exit_code : 128 + info.signal;
      if (code != 0 && !info.stderr_tail.empty())  // the tenant's output: debug only
        log::debug("agent CLI stderr", {.component = "session", .detail = info.stderr_tail});
      caf::anon_send(a, atom::exited_v, gen, code, std::move(info.cap_hit));
    }
  };
  cb.on_oversized = [](std::size_t) {
    log::warn("agent output line over the limit", {.component = "session"});
  };
  return cb;
}

/// Writes `initialize` to a started CLI; null (and the CLI killed) when it could not start or
/// take the line.
std::shared_ptr<cli_process> initialized(caf::expected<std::shared_ptr<cli_process>> proc,
                                         const claude::query_options& opts,
                                         std::string_view hooks_json, std::string_view request_id) {
  if (!proc) {
    log::error("cannot start the agent CLI",
               {.component = "session", .error_code = to_string(errc_of(proc.error()))});
    return nullptr;
  }
  auto init = claude::initialize(request_id, hooks_json, claude::agents_json(opts.agents));
  if (!init || (*proc)->write_line(std::move(*init))) {
    (*proc)->kill();
    return nullptr;
  }
  return std::move(*proc);
}

}  // namespace

claude::driver_config spawn_driver(const claude::query_options& opts, const turn_spec& spec) {
  // The sandbox's model proxy counts the process's requests under its session: ours is the
  // CLI's `--session-id` (a new session or a fork) or the session it resumes.
  auto driver = spec.driver;
  driver.session_id = opts.session_id.value_or(opts.resume.value_or(""));
  return driver;
}

cli_start_ticket start_cli_for(cli_launcher& launcher, const claude::query_options& opts,
                               const turn_spec& spec, std::shared_ptr<cli_route> route,
                               std::string hooks_json, std::string request_id,
                               const caf::actor_addr& owner, uint64_t id) {
  auto start = std::make_shared<pending_start>();
  launcher.start(opts, spawn_driver(opts, spec), [start, owner, id](cli_start_result r) mutable {
    bool wanted = start->complete(std::move(r));
    start.reset();  // the owner's copy is the last one, or none is
    if (!wanted) return;
    if (auto a = caf::actor_cast<caf::actor>(owner)) caf::anon_send(a, atom::launched_v, id);
  });
  return {opts, std::move(route), std::move(hooks_json), std::move(request_id), std::move(start)};
}

std::shared_ptr<cli_process> cli_start_ticket::serve() const {
  auto& result = start->result();
  if (!result.cli) {
    log::error("cannot start the agent CLI",
               {.component = "session", .error_code = to_string(errc_of(result.error))});
    return nullptr;
  }
  return initialized(result.cli->serve(route_callbacks(route)), opts, hooks_json, request_id);
}

void cli_start_ticket::discard(std::function<void()> gone) const {
  start->abandon(std::move(gone));
}

std::shared_ptr<cli_process> start_cli(cli_launcher& launcher, const claude::query_options& opts,
                                       const turn_spec& spec,
                                       const std::shared_ptr<cli_route>& route,
                                       std::string_view hooks_json, std::string_view request_id) {
  return initialized(launcher.launch(opts, spawn_driver(opts, spec), route_callbacks(route)), opts,
                     hooks_json, request_id);
}

}  // namespace caa
