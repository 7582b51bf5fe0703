#include "transport/sandbox/tenant_files.hpp"

#include "config/errc.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string_view>
#include <utility>
#include <vector>

namespace caa::sandbox {

namespace {

/// Owns one fd.
struct fd_owner {
  int fd = -1;
  explicit fd_owner(int x = -1) : fd(x) {}
  fd_owner(fd_owner&& o) noexcept : fd(std::exchange(o.fd, -1)) {}
  fd_owner& operator=(fd_owner&& o) noexcept {
    std::swap(fd, o.fd);
    return *this;
  }
  ~fd_owner() {
    if (fd >= 0) ::close(fd);
  }
};

/// `openat2` confined beneath `dirfd`, no symlinks, no magic links; -errno on failure.
int open_confined(int dirfd, const std::string& name, uint64_t flags, mode_t mode) {
  open_how how{};
  how.flags = flags | O_CLOEXEC;
  how.mode = (flags & O_CREAT) != 0 ? mode : 0;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  for (int attempt = 0; attempt < 16; ++attempt) {
    long fd = ::syscall(SYS_openat2, dirfd, name.c_str(), &how, sizeof how);
    if (fd >= 0) return static_cast<int>(fd);
    if (errno != EAGAIN && errno != EINTR) return -errno;
  }
  return -EAGAIN;
}

caf::error refused(const char* what, int err) {
  return make_error(errc::internal,
                    std::string{"tenant file: "} + what + ": " + std::strerror(err));
}

std::vector<std::string> split(const std::string& rel) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= rel.size()) {
    auto end = rel.find('/', start);
    if (end == std::string::npos) end = rel.size();
    out.push_back(rel.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

}  // namespace

caf::error write_new_file_beneath(const std::string& root, const std::string& rel,
                                  const std::string& content, uint32_t owner) {
  auto segs = split(rel);
  for (const auto& s : segs)
    if (s.empty() || s == "." || s == ".." || s.find('\0') != std::string::npos)
      return refused("path", EINVAL);
  fd_owner dir{::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW)};
  if (dir.fd < 0) return refused("root", errno);
  for (std::size_t i = 0; i + 1 < segs.size(); ++i) {
    bool made = ::mkdirat(dir.fd, segs[i].c_str(), 0700) == 0;
    if (!made && errno != EEXIST) return refused("mkdir", errno);
    int fd = open_confined(dir.fd, segs[i], O_PATH | O_DIRECTORY, 0);
    if (fd < 0) return refused("directory", -fd);
    dir = fd_owner{fd};
    if (made && owner != 0 && ::fchownat(dir.fd, "", owner, owner, AT_EMPTY_PATH) != 0)
      return refused("chown", errno);
  }
  int fd = open_confined(dir.fd, segs.back(), O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (fd == -EEXIST) return {};
  if (fd < 0) return refused("create", -fd);
  fd_owner file{fd};
  if (owner != 0 && ::fchown(file.fd, owner, owner) != 0) return refused("chown", errno);
  std::size_t done = 0;
  while (done < content.size()) {
    auto n = ::write(file.fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return refused("write", errno);
    done += static_cast<std::size_t>(n);
  }
  return {};
}

namespace {

void add_tree(int dirfd, uint64_t& total, uint64_t stop_after, int depth) {
  if (depth > 512) return;
  int fd = ::openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return;
  DIR* dir = ::fdopendir(fd);
  if (dir == nullptr) {
    ::close(fd);
    return;
  }
  while (auto* e = ::readdir(dir)) {
    std::string_view name{e->d_name};
    if (name == "." || name == "..") continue;
    struct stat st {};
    if (::fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    total += static_cast<uint64_t>(st.st_blocks) * 512;
    if (stop_after > 0 && total > stop_after) break;
    if (!S_ISDIR(st.st_mode)) continue;
    int sub = open_confined(fd, e->d_name, O_PATH | O_DIRECTORY, 0);
    if (sub < 0) continue;
    add_tree(sub, total, stop_after, depth + 1);
    ::close(sub);
  }
  ::closedir(dir);
}

}  // namespace

uint64_t tree_bytes(const std::string& dir, uint64_t stop_after) {
  int fd = ::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return 0;
  uint64_t total = 0;
  add_tree(fd, total, stop_after, 0);
  ::close(fd);
  return total;
}

}  // namespace caa::sandbox
