#pragma once

#include "actors/interfaces.hpp"
#include "storage/postgres/pg_pool.hpp"

#include <caf/actor_system.hpp>

#include <chrono>
#include <cstdint>

namespace caa {

/// How the process budget behaves.
struct admission_config {
  uint32_t budget = 1;                            ///< MAX_AGENT_PROCESSES (resolved, >= 1)
  caf::timespan wait = std::chrono::seconds{10};  ///< ADMISSION_WAIT
  /// MAX_CONCURRENT_SPAWNS: processes starting at once (granted, no line written yet); 0: no
  /// cap. A CLI start costs about one CPU-second: more starts than cores only slow each other.
  uint32_t max_starting = 0;
  /// TENANT_MAX_AGENT_PROCESSES: slots one tenant may be granted; 0: half the budget, >= 1.
  uint32_t tenant_share = 0;
  /// How long an ask to hibernate (or to give up a warm process) counts as on its way.
  caf::timespan patience = std::chrono::seconds{5};
  /// Where the tenants' own shares are read (tenant_limits); unset: every tenant gets
  /// `tenant_share` unless told otherwise (`atom::share`).
  storage::pg_actor pg{};
  /// How often the tenants' own shares are read again.
  caf::timespan share_refresh = std::chrono::seconds{30};
};

/// The tenant share of `budget` when TENANT_MAX_AGENT_PROCESSES is `configured` (0: half).
uint32_t resolve_tenant_share(uint32_t budget, uint32_t configured);

/// The default budget when MAX_AGENT_PROCESSES is 0: about 300 MB per CLI within 80 % of the
/// available memory, at least 1 and at most 512.
uint32_t default_process_budget();

/// Spawns the admission actor.
admission_actor spawn_admission(caf::actor_system& sys, admission_config cfg);

}  // namespace caa
