#pragma once

// Tenancy on disk (RELIABILITY R15). Every tenant owns `WORKSPACE_ROOT/<tenant_id>/`:
//   work/    the root of its working directories: every `cwd`, `add_dirs` and plugin path is
//            resolved beneath it by the kernel (`openat2` with RESOLVE_BENEATH), never by string
//            manipulation alone;
//   config/  its CLAUDE_CONFIG_DIR (transcripts, settings, file history);
//   home/    its HOME;
//   tmp/     its TMPDIR.
// All four are created with mode 0700. Only a canonical lower-case UUID names a tenant directory,
// so no tenant id can reach the disk as a path trick.

#include <caf/expected.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace caa {

/// The directories of one tenant, absolute and canonical (no symlink in them).
struct tenant_dirs {
  std::string root;    ///< WORKSPACE_ROOT/<tenant_id>
  std::string work;    ///< the root of the tenant's working directories
  std::string config;  ///< its CLAUDE_CONFIG_DIR
  std::string home;    ///< its HOME
  std::string tmp;     ///< its TMPDIR
};

/// Why a workspace-relative path was refused, or could not be checked.
enum class path_error : uint8_t {
  empty,           ///< the text is empty
  absolute,        ///< starts with '/'
  malformed,       ///< control characters (NUL included) or an empty segment ("a//b")
  too_long,        ///< over `max_relative_path_bytes`, or a segment over NAME_MAX
  escapes,         ///< leaves `work/` (`..`, an absolute or outward symlink, a magic link)
  not_found,       ///< does not exist
  not_directory,   ///< exists but is not a directory
  not_accessible,  ///< permission denied on the way
  unavailable,     ///< a server-side failure (the tenant's directories are missing, I/O error)
};

/// The public message of `e` for a 422 field error; it never contains the path.
std::string_view message_of(path_error e) noexcept;

/// The longest accepted relative path, in bytes.
inline constexpr std::size_t max_relative_path_bytes = 1024;

/// Checks the text of a workspace-relative path without touching the disk: not empty, at most
/// `max_relative_path_bytes`, not absolute, no control character, no empty segment, segments of
/// at most NAME_MAX bytes, and no `..` that climbs above the start. nullopt: acceptable text.
std::optional<path_error> check_relative_path(std::string_view rel);

/// Whether `id` can name a tenant directory: a canonical lower-case 8-4-4-4-12 UUID.
bool is_tenant_id(std::string_view id) noexcept;

/// An existing directory confined to one tenant's `work/`, resolved by the kernel. Only
/// `tenant_workspace` makes one, so holding one proves the check ran (RELIABILITY R12).
class workspace_path {
 public:
  /// The absolute, canonical path (what the CLI gets as cwd, `--add-dir` or `--plugin-dir`).
  const std::string& absolute() const noexcept { return absolute_; }
  /// The canonical path relative to `work/`: "." for the root itself, else e.g. "proj/src".
  const std::string& relative() const noexcept { return relative_; }

 private:
  friend class tenant_workspace;
  workspace_path(std::string absolute, std::string relative)
      : absolute_(std::move(absolute)), relative_(std::move(relative)) {}

  std::string absolute_;
  std::string relative_;
};

/// What `tenant_workspace::resolve` does when the directory does not exist yet.
enum class if_missing : uint8_t {
  refuse,  ///< `path_error::not_found`
  create,  ///< create the missing trailing segments (mode 0755), each confined by the kernel
};

/// The workspace tree under WORKSPACE_ROOT. Stateless apart from the root path; thread-safe.
class tenant_workspace {
 public:
  /// A tree rooted at `root` (WORKSPACE_ROOT; relative paths are taken from the process cwd).
  explicit tenant_workspace(std::string root);

  /// Creates (if needed) the tenant's `work/`, `config/`, `home/` and `tmp/` (0700) and returns
  /// their canonical paths. Creates WORKSPACE_ROOT itself if it is missing. With an `owner`
  /// (the tenant's sandbox uid, also its gid), `work/` and `config/` belong to it (a tree made
  /// before the sandbox is handed over once, without following symlinks) and the tenant's
  /// directory stays the service's with mode 0711. Errors are `errc::internal` (a malformed
  /// tenant id is a server bug) with a log-only context.
  caf::expected<tenant_dirs> ensure(std::string_view tenant_id, uint32_t owner = 0) const;

  /// Resolves `relative` beneath the tenant's `work/` (which `ensure` must have created) to an
  /// existing directory. Refuses absolute paths, control characters, empty segments, over-long
  /// text, and anything the kernel sees leave `work/` (`..`, symlinks pointing outside, magic
  /// links). Symlinks that stay inside are followed. "." is `work/` itself.
  /// Directories it creates belong to `owner` when it is not 0 (the tenant's sandbox uid).
  std::variant<workspace_path, path_error> resolve(std::string_view tenant_id,
                                                   std::string_view relative,
                                                   if_missing mode = if_missing::refuse,
                                                   uint32_t owner = 0) const;

  /// WORKSPACE_ROOT as configured.
  const std::string& root() const noexcept { return root_; }

 private:
  std::string root_;
};

}  // namespace caa
