#pragma once

#include "config/settings.hpp"

#include <caf/actor_system_config.hpp>

namespace caa {

/// The actor system's configuration: our type-ID blocks, our error category and the io
/// middleman (for the cluster), with CAF's own config file and CLI parsing left unused.
class system_config : public caf::actor_system_config {
 public:
  /// Configures an actor system for `cfg` (scheduler threads follow the cores).
  explicit system_config(const settings& cfg);
};

}  // namespace caa
