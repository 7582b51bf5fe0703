#pragma once

#include "config/settings.hpp"

namespace caa {

/// Runs the whole service until SIGINT or SIGTERM, then drains and returns the exit code:
/// migrations, storage pools, bootstrap key, health monitor, HTTP edge, in that order; teardown
/// in reverse. BLOCKING: called from `main`.
int run_service(const settings& cfg);

}  // namespace caa
