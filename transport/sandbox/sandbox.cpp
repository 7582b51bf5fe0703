#include "transport/sandbox/sandbox.hpp"

#include "config/errc.hpp"
#include "config/settings.hpp"
#include "transport/sandbox/cgroup.hpp"
#include "transport/sandbox/egress_proxy.hpp"
#include "transport/sandbox/host_checks.hpp"
#include "transport/sandbox/model_proxy.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <system_error>
#include <utility>

namespace caa::sandbox {

namespace {

namespace fs = std::filesystem;

/// What one sandboxed process holds until it has been reaped: its proxy endpoint, its cgroup
/// (whose destruction kills any straggler) and its runtime directory.
class process_lease final : public claude::process_resources {
 public:
  process_lease(std::string dir, std::shared_ptr<void> endpoint, std::shared_ptr<void> egress,
                std::unique_ptr<session_cgroup> cgroup)
      : dir_(std::move(dir)),
        endpoint_(std::move(endpoint)),
        egress_(std::move(egress)),
        cgroup_(std::move(cgroup)) {}

  ~process_lease() override {
    endpoint_.reset();
    egress_.reset();
    cgroup_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  std::string cap_hit() const override { return cgroup_ ? cgroup_->cap_hit() : std::string{}; }

 private:
  std::string dir_;
  std::shared_ptr<void> endpoint_;
  std::shared_ptr<void> egress_;
  std::unique_ptr<session_cgroup> cgroup_;
};

/// Writes `text` to `path` (mode 0644, replacing it).
caf::error write_file(const std::string& path, const std::string& text) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0) return make_error(errc::agent_error, "sandbox: cannot write " + path);
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  if (!ok) return make_error(errc::agent_error, "sandbox: cannot write " + path);
  return {};
}

/// The passwd and group files of the inside: the tenant's uid is "agent".
caf::error write_identity(const std::string& dir, uint32_t uid) {
  auto id = std::to_string(uid);
  if (auto err = write_file(dir + "/passwd",
                            "root:x:0:0:root:/root:/usr/sbin/nologin\n"
                            "agent:x:" +
                                id + ":" + id +
                                ":agent:/home/agent:/bin/bash\n"
                                "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"))
    return err;
  return write_file(dir + "/group", "root:x:0:\nagent:x:" + id + ":\nnogroup:x:65534:\n");
}

}  // namespace

caf::expected<std::shared_ptr<host>> host::start(
    boost::asio::io_context& io, const settings& cfg,
    std::function<void(const usage_record&)> on_usage) {
  std::shared_ptr<host> h{new host()};
  h->bwrap_path_ = "/usr/bin/bwrap";
  auto cli = resolve_executable(cfg.agent.cli_path);
  if (!cli) return std::move(cli.error());
  h->cli_path_ = std::move(*cli);
  h->runtime_dir_ = cfg.sandbox.runtime_dir.empty()
                        ? (fs::absolute(cfg.agent.workspace_root) / ".sandbox").string()
                        : fs::absolute(cfg.sandbox.runtime_dir).string();
  h->extra_ro_paths_ = cfg.egress.mcp_stdio_allowed_commands;
  h->memory_max_ = cfg.sandbox.memory_max;
  h->pids_max_ = cfg.sandbox.pids_max;
  h->cpu_weight_ = cfg.sandbox.cpu_weight;
  h->file_size_limit_ = cfg.sandbox.disk_quota;
  if (auto err = check_requirements(cfg, h->bwrap_path_, h->cli_path_, h->runtime_dir_)) return err;
  // Stable across restarts of this service (one per runtime directory), so what a crash left
  // is found and removed below.
  auto node = "caa-" + std::to_string(std::hash<std::string>{}(h->runtime_dir_) % 1000000007u);
  h->cgroups_ = std::make_unique<cgroup_manager>(cgroup_manager::detect(node));
  if (h->cgroups_->mode() == cgroup_mode::none)
    return make_error(
        errc::agent_error,
        "AGENT_SANDBOX=strict needs cgroups for AGENT_MEMORY_MAX and AGENT_PIDS_MAX: " +
            h->cgroups_->description());
  h->cgroups_->remove_stale();
  upstream_config up;
  up.base_url = cfg.agent.anthropic_base_url.value_or("https://api.anthropic.com");
  if (cfg.agent.anthropic_api_key) up.api_key = cfg.agent.anthropic_api_key->reveal();
  h->proxy_ = model_proxy::make(io, std::move(up), std::move(on_usage));
  if (!cfg.sandbox.egress_allow.empty()) {
    if (auto err = h->start_egress(io, cfg)) return err;
  }
  h->description_ = "uids " + std::to_string(cfg.sandbox.uid_base) + "+" +
                    std::to_string(cfg.sandbox.uid_count) + ", " + h->cgroups_->description() +
                    ", runtime " + h->runtime_dir_;
  return h;
}

caf::error host::start_egress(boost::asio::io_context& io, const settings& cfg) {
  egress_config ec;
  ec.allow = cfg.sandbox.egress_allow;
  if (auto err = validate(ec))
    return make_error(errc::agent_error,
                      "AGENT_EGRESS_ALLOW: " + render_errc(err.code(), err.context()));
  // The relay runs inside every sandbox: a copy the tenants' uids can reach.
  std::error_code ec_fs;
  auto self = fs::read_symlink("/proc/self/exe", ec_fs);
  auto source = self.parent_path() / relay_program;
  relay_path_ = runtime_dir_ + "/" + std::string{relay_program};
  fs::copy_file(source, relay_path_, fs::copy_options::overwrite_existing, ec_fs);
  if (ec_fs || ::chmod(relay_path_.c_str(), 0755) != 0)
    return make_error(errc::agent_error, "AGENT_EGRESS_ALLOW needs " + std::string{relay_program} +
                                             " next to the service's executable");
  egress_ = egress_proxy::make(io, std::move(ec));
  return {};
}

host::~host() {
  if (cgroups_) cgroups_->remove_node();
}

caf::error host::prepare(claude::spawn_spec& spec, const claude::driver_config& driver) {
  if (driver.agent_uid == 0 || driver.tenant_id.empty())
    return make_error(errc::agent_error, "sandbox: the spawn has no tenant uid");
  auto name = std::to_string(::getpid()) + "-" + std::to_string(++next_id_);
  auto dir = runtime_dir_ + "/" + name;
  std::error_code ec;
  fs::remove_all(dir, ec);
  if (::mkdir(dir.c_str(), 0711) != 0 || ::chmod(dir.c_str(), 0711) != 0)
    return make_error(errc::agent_error, "sandbox: cannot create the runtime directory");
  // From here on the lease owns the directory.
  auto cleanup = [&] { fs::remove_all(dir, ec); };
  if (auto err = write_identity(dir, driver.agent_uid)) {
    cleanup();
    return err;
  }
  auto placeholder = make_placeholder_key();
  auto endpoint =
      proxy_->open_endpoint(dir + "/model.sock", placeholder, driver.tenant_id, driver.session_id,
                            static_cast<int>(driver.agent_uid), static_cast<int>(driver.agent_uid));
  if (!endpoint) {
    cleanup();
    return std::move(endpoint.error());
  }
  cgroup_limits limits;
  limits.memory_max = memory_max_;
  limits.pids_max = pids_max_;
  if (cpu_weight_ > 0) limits.cpu_weight = cpu_weight_;
  std::shared_ptr<void> egress;
  if (egress_) {
    auto ep = egress_->open_endpoint(dir + "/egress.sock", driver.tenant_id,
                                     static_cast<int>(driver.agent_uid),
                                     static_cast<int>(driver.agent_uid));
    // The relay is bound through the runtime directory: a hard link costs nothing.
    if (!ep || ::link(relay_path_.c_str(), (dir + "/relay").c_str()) != 0) {
      cleanup();
      return ep ? make_error(errc::agent_error, "sandbox: cannot link the relay")
                : std::move(ep.error());
    }
    egress = std::move(*ep);
  }
  auto cg = cgroups_->create(name, limits);
  if (!cg) {
    cleanup();
    return std::move(cg.error());
  }
  layout l;
  l.bwrap_path = bwrap_path_;
  l.cli_path = cli_path_;
  l.extra_ro_paths = extra_ro_paths_;
  l.process_dir = dir;
  l.work_dir = fs::path{driver.config_dir}.parent_path().string() + "/work";
  l.config_dir = driver.config_dir;
  auto& sb = spec.sandbox;
  sb.enabled = true;
  sb.uid = driver.agent_uid;
  sb.gid = driver.agent_uid;
  sb.bwrap_args = bwrap_args(l);
  sb.cgroup_fds = (*cg)->procs_fds();
  sb.file_size_limit = file_size_limit_;
  sb.resources =
      std::make_shared<process_lease>(dir, std::move(*endpoint), std::move(egress), std::move(*cg));
  spec.bwrap_path = bwrap_path_;
  spec.env = sandbox_env(std::move(spec.env), placeholder);
  if (!spec.argv.empty()) spec.argv.front() = cli_path_;
  if (egress_) route_egress(spec.argv, spec.env);
  return {};
}

}  // namespace caa::sandbox
