#pragma once

// What of a session's transcript is stored already.

#include <cstdint>
#include <map>
#include <string>

namespace caa::detail {

/// The transcript lines already stored, per subpath; loaded from PostgreSQL before the first
/// resumed spawn of the actor (which also restores missing transcript files).
struct session_transcript {
  /// The next line number, per subpath ("" is the main transcript).
  std::map<std::string, int64_t> lines;
  /// Whether the stored transcript was read (or tried) already.
  bool loaded = false;
};

}  // namespace caa::detail
