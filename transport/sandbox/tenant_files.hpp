#pragma once

// Files the service writes into a tenant's tree (transcript restore): every step is confined
// by the kernel beneath the tenant's directory and never follows a symlink the agent planted
// (`openat2` with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS), and what it creates belongs to the
// tenant's uid, so the agent can go on using it.

#include <caf/error.hpp>

#include <cstdint>
#include <string>

namespace caa::sandbox {

/// Creates `rel` (a relative path of plain segments) beneath the directory `root` with
/// `content` (mode 0600), making missing parent directories (0700); nothing happens when the
/// file exists. With `owner` != 0, what it creates belongs to that uid and gid. Refuses a
/// path that would leave `root` or pass through a symlink.
caf::error write_new_file_beneath(const std::string& root, const std::string& rel,
                                  const std::string& content, uint32_t owner);

/// The bytes the tree below `dir` takes on disk (allocated blocks; symlinks are not followed,
/// hard links counted once per name). Stops early once past `stop_after` (0: never).
uint64_t tree_bytes(const std::string& dir, uint64_t stop_after = 0);

}  // namespace caa::sandbox
