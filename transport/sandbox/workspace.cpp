#include "transport/sandbox/workspace.hpp"

#include "config/errc.hpp"
#include "config/uuid.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <filesystem>
#include <optional>
#include <system_error>
#include <utility>
#include <vector>

namespace caa {

namespace {

/// Owns one file descriptor.
class unique_fd {
 public:
  explicit unique_fd(int fd = -1) noexcept : fd_(fd) {}
  unique_fd(unique_fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  unique_fd& operator=(unique_fd&& other) noexcept {
    std::swap(fd_, other.fd_);
    return *this;
  }
  unique_fd(const unique_fd&) = delete;
  unique_fd& operator=(const unique_fd&) = delete;
  ~unique_fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const noexcept { return fd_; }

 private:
  int fd_;
};

/// A directory fd, or the errno of the failure.
using fd_or_errno = std::variant<unique_fd, int>;

/// `openat2(dirfd, rel, O_PATH|O_DIRECTORY, RESOLVE_BENEATH|RESOLVE_NO_MAGICLINKS|extra)`,
/// retried on EAGAIN (a concurrent rename while `..` was resolved) and EINTR.
fd_or_errno open_beneath(int dirfd, const std::string& rel, uint64_t extra = 0) {
  open_how how{};
  how.flags = O_PATH | O_DIRECTORY | O_CLOEXEC;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | extra;
  for (int attempt = 0; attempt < 16; ++attempt) {
    long fd = ::syscall(SYS_openat2, dirfd, rel.c_str(), &how, sizeof how);
    if (fd >= 0) return unique_fd{static_cast<int>(fd)};
    if (errno != EAGAIN && errno != EINTR) return errno;
  }
  return EAGAIN;
}

/// The canonical path of an open fd, read from /proc/self/fd (nullopt on failure).
std::optional<std::string> path_of(int fd) {
  std::array<char, PATH_MAX + 1> buf{};
  auto link = "/proc/self/fd/" + std::to_string(fd);
  auto n = ::readlink(link.c_str(), buf.data(), buf.size());
  if (n <= 0 || static_cast<std::size_t>(n) >= buf.size() || buf[0] != '/') return std::nullopt;
  return std::string{buf.data(), static_cast<std::size_t>(n)};
}

/// Maps the errno of a failed resolution to a refusal.
path_error from_errno(int err) noexcept {
  switch (err) {
    case EXDEV:
    case ELOOP:
      return path_error::escapes;
    case ENOENT:
      return path_error::not_found;
    case ENOTDIR:
      return path_error::not_directory;
    case ENAMETOOLONG:
      return path_error::too_long;
    case EACCES:
    case EPERM:
      return path_error::not_accessible;
    default:
      return path_error::unavailable;
  }
}

/// The segments of `rel` ("a/b/" -> {"a","b"}).
std::vector<std::string> segments_of(std::string_view rel) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < rel.size()) {
    auto end = rel.find('/', start);
    if (end == std::string_view::npos) end = rel.size();
    out.emplace_back(rel.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

}  // namespace

std::optional<path_error> check_relative_path(std::string_view rel) {
  if (rel.empty()) return path_error::empty;
  if (rel.size() > max_relative_path_bytes) return path_error::too_long;
  if (rel.front() == '/') return path_error::absolute;
  for (unsigned char c : rel)
    if (c < 0x20 || c == 0x7F) return path_error::malformed;
  if (rel.find("//") != std::string_view::npos) return path_error::malformed;
  long depth = 0;  // lexical: `..` above the start escapes whatever the disk holds
  for (const auto& seg : segments_of(rel)) {
    if (seg.size() > NAME_MAX) return path_error::too_long;
    if (seg == "..")
      --depth;
    else if (seg != ".")
      ++depth;
    if (depth < 0) return path_error::escapes;
  }
  return std::nullopt;
}

namespace {

/// Creates the missing tail of `rel` beneath `workfd`: finds the longest existing prefix, then
/// makes each remaining plain segment with mkdirat on its parent's fd and opens it without
/// following symlinks, so a concurrent swap cannot redirect the walk.
fd_or_errno create_beneath(int workfd, std::string_view rel, uint32_t owner) {
  auto segs = segments_of(rel);
  std::size_t have = segs.size();
  std::optional<unique_fd> parent;
  while (!parent) {
    if (have == 0) return ENOENT;
    --have;
    std::string prefix = ".";
    for (std::size_t i = 0; i < have; ++i) prefix += "/" + segs[i];
    auto r = open_beneath(workfd, prefix);
    if (auto* err = std::get_if<int>(&r); err && *err != ENOENT) return *err;
    if (auto* fd = std::get_if<unique_fd>(&r)) parent = std::move(*fd);
  }
  auto special = [](const std::string& seg) { return seg == "." || seg == ".."; };
  if (std::any_of(segs.begin() + static_cast<std::ptrdiff_t>(have), segs.end(), special))
    return ENOENT;  // only plain names are created, and nothing before that is known
  for (std::size_t i = have; i < segs.size(); ++i) {
    if (::mkdirat(parent->get(), segs[i].c_str(), 0755) != 0 && errno != EEXIST) return errno;
    auto r = open_beneath(parent->get(), segs[i], RESOLVE_NO_SYMLINKS);
    if (auto* err = std::get_if<int>(&r)) return *err;
    parent = std::move(std::get<unique_fd>(r));
    if (owner != 0 && ::fchownat(parent->get(), "", owner, owner, AT_EMPTY_PATH) != 0) return errno;
  }
  return std::move(*parent);
}

/// Opens WORKSPACE_ROOT.
fd_or_errno open_root(const std::string& root) {
  int fd = ::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno;
  return unique_fd{fd};
}

/// mkdirat + confined open (no symlinks at all) of one directory the server owns.
fd_or_errno make_owned_dir(int parent, const std::string& name, mode_t mode = 0700) {
  if (::mkdirat(parent, name.c_str(), mode) != 0 && errno != EEXIST) return errno;
  return open_beneath(parent, name, RESOLVE_NO_SYMLINKS);
}

/// `fchmodat` of an O_PATH fd through its /proc/self/fd link (fchmod refuses O_PATH fds).
int chmod_fd(int fd, mode_t mode) {
  auto link = "/proc/self/fd/" + std::to_string(fd);
  return ::chmod(link.c_str(), mode) == 0 ? 0 : errno;
}

/// Hands the tree below `dirfd` to `owner` (uid and gid), never following a symlink: every
/// entry is changed through an fd opened beneath its parent, or with AT_SYMLINK_NOFOLLOW.
int chown_tree(int dirfd, uint32_t owner, int depth = 0) {
  if (depth > 256) return ELOOP;
  int fd = ::openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return errno;
  DIR* dir = ::fdopendir(fd);
  if (dir == nullptr) {
    ::close(fd);
    return errno;
  }
  int result = 0;
  while (auto* e = ::readdir(dir)) {
    std::string_view name{e->d_name};
    if (name == "." || name == "..") continue;
    if (::fchownat(fd, e->d_name, owner, owner, AT_SYMLINK_NOFOLLOW) != 0) result = errno;
    if (e->d_type != DT_DIR) continue;
    auto sub = open_beneath(fd, std::string{name}, RESOLVE_NO_SYMLINKS);
    if (auto* sfd = std::get_if<unique_fd>(&sub))
      if (int r = chown_tree(sfd->get(), owner, depth + 1)) result = r;
  }
  ::closedir(dir);
  return result;
}

/// Makes `fd` (a directory of the tenant) belong to `owner` with mode 0700; a directory that
/// still belongs to someone else has its whole tree handed over.
int give_to(int fd, uint32_t owner) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return errno;
  if (st.st_uid != owner || st.st_gid != owner) {
    if (::fchownat(fd, "", owner, owner, AT_EMPTY_PATH) != 0) return errno;
    if (int r = chown_tree(fd, owner)) return r;
  }
  return (st.st_mode & 07777) == 0700 ? 0 : chmod_fd(fd, 0700);
}

caf::error fs_error(std::string_view what, int err) {
  return make_error(errc::internal, "workspace: " + std::string{what} + ": " +
                                        std::generic_category().message(err));
}

}  // namespace

std::string_view message_of(path_error e) noexcept {
  switch (e) {
    case path_error::empty:
      return "must not be empty";
    case path_error::absolute:
      return "must be relative to the workspace";
    case path_error::malformed:
      return "must not contain control characters or empty segments";
    case path_error::too_long:
      return "is too long";
    case path_error::escapes:
      return "escapes the workspace";
    case path_error::not_found:
      return "does not exist";
    case path_error::not_directory:
      return "is not a directory";
    case path_error::not_accessible:
      return "is not accessible";
    case path_error::unavailable:
      return "cannot be checked now";
  }
  return "is invalid";
}

bool is_tenant_id(std::string_view id) noexcept {
  // Lower case only: one tenant must never have two directory names.
  return is_uuid(id) &&
         std::none_of(id.begin(), id.end(), [](char c) { return c >= 'A' && c <= 'F'; });
}

tenant_workspace::tenant_workspace(std::string root) : root_(std::move(root)) {}

caf::expected<tenant_dirs> tenant_workspace::ensure(std::string_view tenant_id,
                                                    uint32_t owner) const {
  if (!is_tenant_id(tenant_id))
    return make_error(errc::internal, "workspace: tenant id is not a canonical UUID");
  std::error_code ec;
  std::filesystem::create_directories(root_, ec);
  if (ec) return fs_error("create root", ec.value());
  auto root = open_root(root_);
  if (auto* err = std::get_if<int>(&root)) return fs_error("open root", *err);
  auto tenant = make_owned_dir(std::get<unique_fd>(root).get(), std::string{tenant_id});
  if (auto* err = std::get_if<int>(&tenant)) return fs_error("tenant directory", *err);
  int tfd = std::get<unique_fd>(tenant).get();
  // Sandboxed, the tenant's uid must reach work/ and config/ (bubblewrap resolves the bind
  // sources as that uid); the directory itself stays the service's.
  if (owner != 0)
    if (int err = chmod_fd(tfd, 0711)) return fs_error("tenant directory mode", err);
  tenant_dirs out;
  auto tenant_path = path_of(tfd);
  if (!tenant_path) return fs_error("tenant directory path", EIO);
  out.root = *tenant_path;
  for (auto [name, dest] : {std::pair{"work", &out.work}, std::pair{"config", &out.config},
                            std::pair{"home", &out.home}, std::pair{"tmp", &out.tmp}}) {
    auto dir = make_owned_dir(tfd, name);
    if (auto* err = std::get_if<int>(&dir)) return fs_error(name, *err);
    bool agents = std::string_view{name} == "work" || std::string_view{name} == "config";
    if (owner != 0 && agents)
      if (int err = give_to(std::get<unique_fd>(dir).get(), owner)) return fs_error(name, err);
    auto path = path_of(std::get<unique_fd>(dir).get());
    if (!path) return fs_error(name, EIO);
    *dest = std::move(*path);
  }
  return out;
}

std::variant<workspace_path, path_error> tenant_workspace::resolve(std::string_view tenant_id,
                                                                   std::string_view relative,
                                                                   if_missing mode,
                                                                   uint32_t owner) const {
  if (!is_tenant_id(tenant_id)) return path_error::unavailable;
  if (auto bad = check_relative_path(relative)) return *bad;
  auto root = open_root(root_);
  if (std::holds_alternative<int>(root)) return path_error::unavailable;
  auto work = open_beneath(std::get<unique_fd>(root).get(), std::string{tenant_id} + "/work",
                           RESOLVE_NO_SYMLINKS);
  if (std::holds_alternative<int>(work)) return path_error::unavailable;
  int wfd = std::get<unique_fd>(work).get();
  auto target = open_beneath(wfd, std::string{relative});
  if (auto* err = std::get_if<int>(&target); err && *err == ENOENT && mode == if_missing::create)
    target = create_beneath(wfd, relative, owner);
  if (auto* err = std::get_if<int>(&target)) return from_errno(*err);
  auto work_path = path_of(wfd);
  auto path = path_of(std::get<unique_fd>(target).get());
  if (!work_path || !path) return path_error::unavailable;
  // Defence in depth: the kernel confined the walk; the canonical result must agree.
  if (*path == *work_path) return workspace_path{std::move(*path), "."};
  if (path->size() <= work_path->size() + 1 ||
      path->compare(0, work_path->size(), *work_path) != 0 || (*path)[work_path->size()] != '/')
    return path_error::escapes;
  auto rel = path->substr(work_path->size() + 1);
  return workspace_path{std::move(*path), std::move(rel)};
}

}  // namespace caa
