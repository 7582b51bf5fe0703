#pragma once

#include "actors/cli_launcher.hpp"
#include "actors/interfaces.hpp"
#include "config/settings.hpp"

#include <caf/actor_system.hpp>

namespace caa {

class tenant_workspace;

/// What the capabilities actor needs.
struct capabilities_deps {
  const settings* cfg = nullptr;
  const tenant_workspace* workspace = nullptr;
  std::shared_ptr<cli_launcher> launcher;             ///< starts the probe CLI
  caf::timespan ttl = std::chrono::minutes{10};       ///< how long an answer is reused
  caf::timespan deadline = std::chrono::seconds{60};  ///< a probe taking longer fails
  /// The process budget a probe takes its slot from (none: probes are not counted; tests).
  admission_actor admission;
  caf::timespan admission_wait = std::chrono::seconds{10};  ///< ADMISSION_WAIT
};

/// Spawns the actor that asks the engine itself what it offers a tenant: one short-lived CLI in
/// the tenant's directories answers `initialize` (commands, agents, models, output styles) and a
/// no-query user message (`shouldQuery:false`: its `init` lists tools, skills, plugins, MCP
/// servers) without any model call. Answers are cached per tenant.
capabilities_actor spawn_capabilities(caf::actor_system& sys, capabilities_deps deps);

}  // namespace caa
