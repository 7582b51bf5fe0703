#pragma once

// The type-ID block of the actors layer, chained after the storage block. Message types of the
// session actors are added here as they appear.

#include "storage/types.hpp"

#include <caf/type_id.hpp>

CAF_BEGIN_TYPE_ID_BLOCK(caa_actors, caf::id_block::caa_storage::end)

  /// INTERNAL: periodic timer of the health monitor.
  CAF_ADD_ATOM(caa_actors, caa::atom, probe, "probe")

CAF_END_TYPE_ID_BLOCK(caa_actors)
