// cgroup_manager::detect: which cgroup interface the host offers, and the node directories.

#include "transport/sandbox/cgroup.hpp"
#include "transport/sandbox/cgroup_io.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace caa::sandbox {

using namespace detail;

namespace {

/// Rounds of moving the own cgroup's processes into the leaf (new ones may appear meanwhile).
constexpr int move_rounds = 8;

/// mkdir that accepts an existing directory; "" or the reason.
std::string ensure_dir(const std::string& dir, const cgroup_fs_hooks& hooks) {
  if (::mkdir(dir.c_str(), 0755) == 0) {
    if (hooks.after_mkdir) hooks.after_mkdir(dir);
    return {};
  }
  if (errno == EEXIST) return {};
  return "cannot create " + dir + ": " + std::strerror(errno);
}

/// Whether `dir`'s cgroup.subtree_control enables all of `controllers`.
bool subtree_has(const std::string& dir, const std::vector<std::string_view>& controllers) {
  auto text = read_text(join(dir, "cgroup.subtree_control"));
  if (!text) return false;
  for (auto c : controllers)
    if (!has_word(*text, c)) return false;
  return true;
}

/// Moves every process of cgroup `from` into its child `to_leaf`; "" or the reason.
std::string move_processes(const std::string& from, const std::string& to_leaf,
                           const cgroup_fs_hooks& hooks) {
  if (auto why = ensure_dir(to_leaf, hooks); !why.empty()) return why;
  auto target = join(to_leaf, "cgroup.procs");
  for (int round = 0; round < move_rounds; ++round) {
    auto text = read_text(join(from, "cgroup.procs"));
    if (!text) return "cannot read " + join(from, "cgroup.procs") + ": " + std::strerror(errno);
    auto pids = parse_pids(*text);
    if (pids.empty()) break;
    for (pid_t pid : pids) {
      int err = write_value(target, std::to_string(pid));
      if (err != 0 && err != ESRCH)  // ESRCH: it exited meanwhile
        return "cannot move pid " + std::to_string(pid) + " to " + target + ": " +
               std::strerror(err);
    }
  }
  return {};
}

/// Enables memory, pids (and cpu when `cpu`) for the children of `dir` in one write; without cpu
/// when that fails (e.g. real-time processes), then clearing `cpu`. "" or the reason.
std::string enable_controllers(const std::string& dir, bool& cpu) {
  auto file = join(dir, "cgroup.subtree_control");
  if (cpu && write_value(file, "+memory +pids +cpu") == 0) return {};
  cpu = false;
  if (int err = write_value(file, "+memory +pids"))
    return "cannot enable memory and pids in " + file + ": " + std::strerror(err);
  return {};
}

/// The unified hierarchy's mount below `fs_root` (pure v2, or hybrid at "unified"), or "".
std::string unified_root(const std::string& fs_root) {
  for (auto dir : {fs_root, join(fs_root, "unified")})
    if (exists(join(dir, "cgroup.controllers"))) return dir;
  return {};
}

/// The service's own v2 cgroup path, seeing through the leaf a previous `detect` moved it to.
std::string own_v2_path(const std::string& unified, std::string path) {
  auto slash = path.rfind('/');
  if (path.size() > 1 && path.substr(slash + 1) == service_leaf) {
    auto parent = slash == 0 ? std::string{"/"} : path.substr(0, slash);
    if (subtree_has(join(unified, parent), {"memory", "pids"})) return parent;
  }
  return path;
}

/// The mount of v1 hierarchy `e` below `fs_root` ("memory", or the joined list "cpu,cpuacct").
std::string v1_root(const std::string& fs_root, const proc_cgroup_entry& e,
                    std::string_view controller) {
  auto dir = join(fs_root, controller);
  if (exists(dir)) return dir;
  std::string list;
  for (auto& c : e.controllers) list += (list.empty() ? "" : ",") + c;
  return join(fs_root, list);
}

}  // namespace

std::string_view to_string(cgroup_mode x) noexcept {
  switch (x) {
    case cgroup_mode::none:
      return "none";
    case cgroup_mode::v1:
      return "v1";
    case cgroup_mode::v2:
      return "v2";
  }
  return "none";
}

bool cgroup_manager::valid_name(std::string_view name) noexcept {
  if (name.empty() || name.size() > 128) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

namespace {

/// Sets up v2 for `node`: "" and fills `node_dir`/`cpu`, or the reason it cannot.
std::string try_v2(const std::string& node, const std::string& fs_root,
                   const std::vector<proc_cgroup_entry>& entries, const cgroup_fs_hooks& hooks,
                   std::string& node_dir, bool& cpu) {
  auto* e = find_entry(entries, "");
  if (e == nullptr) return "no \"0::\" line";
  auto unified = unified_root(fs_root);
  if (unified.empty()) return "no unified hierarchy below " + fs_root;
  auto own_path = own_v2_path(unified, e->path);
  auto own = join(unified, own_path);
  auto controllers = read_text(join(own, "cgroup.controllers"));
  if (!controllers) return "cannot read " + join(own, "cgroup.controllers");
  if (!has_word(*controllers, "memory") || !has_word(*controllers, "pids"))
    return own + " offers controllers \"" + controllers->substr(0, controllers->find('\n')) +
           "\" (needs memory and pids)";
  for (const auto& f :
       {std::string{}, std::string{"cgroup.procs"}, std::string{"cgroup.subtree_control"}})
    if (::access(join(own, f).c_str(), W_OK) != 0)
      return own + " is not delegated to this service (" + join(own, f) +
             " not writable: " + std::strerror(errno) + ")";
  cpu = has_word(*controllers, "cpu");
  std::vector<std::string_view> wanted{"memory", "pids"};
  if (cpu) wanted.push_back("cpu");
  if (!subtree_has(own, wanted)) {
    // Only the real root (it has no cgroup.type) may hold processes and have children; a
    // cgroup namespace's "/" is an ordinary cgroup.
    if (own_path != "/" || exists(join(own, "cgroup.type")))
      if (auto why = move_processes(own, join(own, service_leaf), hooks); !why.empty()) return why;
    if (auto why = enable_controllers(own, cpu); !why.empty()) return why;
  }
  node_dir = join(own, node);
  if (auto why = ensure_dir(node_dir, hooks); !why.empty()) return why;
  return enable_controllers(node_dir, cpu);
}

/// Makes `<hierarchy of c>/<own path>/<node>`: "" and appends it to `node_dirs` (and to `made`
/// when new), or the reason it cannot.
std::string make_v1_node(std::string_view c, const std::string& node, const std::string& fs_root,
                         const std::vector<proc_cgroup_entry>& entries,
                         const cgroup_fs_hooks& hooks, std::vector<std::string>& node_dirs,
                         std::vector<std::string>& made) {
  auto* e = find_entry(entries, c);
  if (e == nullptr) return "no " + std::string{c} + " hierarchy";
  auto own = join(v1_root(fs_root, *e, c), e->path);
  if (!exists(join(own, "cgroup.procs")))
    return std::string{c} + " hierarchy not mounted at " + own;
  auto dir = join(own, node);
  bool fresh = !exists(dir);
  if (auto why = ensure_dir(dir, hooks); !why.empty()) return why;
  if (fresh) made.push_back(dir);
  node_dirs.push_back(dir);
  return {};
}

/// Sets up v1 for `node`: "" and fills `node_dirs` (memory, pids[, cpu]) and `cpu`, or the reason.
std::string try_v1(const std::string& node, const std::string& fs_root,
                   const std::vector<proc_cgroup_entry>& entries, const cgroup_fs_hooks& hooks,
                   std::vector<std::string>& node_dirs, bool& cpu) {
  std::vector<std::string> made;
  for (std::string_view c : {"memory", "pids"}) {
    if (auto why = make_v1_node(c, node, fs_root, entries, hooks, node_dirs, made); !why.empty()) {
      for (auto it = made.rbegin(); it != made.rend(); ++it) {
        if (hooks.before_rmdir) hooks.before_rmdir(*it);
        ::rmdir(it->c_str());
      }
      node_dirs.clear();
      return why;
    }
  }
  cpu = make_v1_node("cpu", node, fs_root, entries, hooks, node_dirs, made).empty();
  return {};
}

}  // namespace

cgroup_manager cgroup_manager::detect(const std::string& node, const std::string& fs_root,
                                      const std::string& proc_self_cgroup, cgroup_fs_hooks hooks) {
  cgroup_manager m;
  m.hooks_ = std::move(hooks);
  if (!valid_name(node) || node == service_leaf) {
    m.description_ = "no cgroups: invalid node name \"" + node + "\"";
    return m;
  }
  auto text = read_text(proc_self_cgroup);
  if (!text) {
    m.description_ = "no cgroups: cannot read " + proc_self_cgroup + ": " + std::strerror(errno);
    return m;
  }
  auto entries = parse_proc_cgroup(*text);
  std::string node_dir;
  auto why_v2 = try_v2(node, fs_root, entries, m.hooks_, node_dir, m.cpu_);
  if (why_v2.empty()) {
    m.mode_ = cgroup_mode::v2;
    m.node_dirs_ = {node_dir};
    m.description_ =
        std::string{"cgroup v2: memory, pids"} + (m.cpu_ ? ", cpu" : "") + " below " + node_dir;
    return m;
  }
  m.cpu_ = false;
  auto why_v1 = try_v1(node, fs_root, entries, m.hooks_, m.node_dirs_, m.cpu_);
  if (why_v1.empty()) {
    m.mode_ = cgroup_mode::v1;
    m.description_ = "cgroup v1: memory below " + m.node_dirs_[0] + ", pids below " +
                     m.node_dirs_[1] + (m.cpu_ ? ", cpu below " + m.node_dirs_[2] : "") +
                     " (v2 not usable: " + why_v2 + ")";
    return m;
  }
  m.description_ = "no cgroups: v2: " + why_v2 + "; v1: " + why_v1;
  return m;
}

}  // namespace caa::sandbox
