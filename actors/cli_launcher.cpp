#include "actors/cli_launcher.hpp"

#include "actors/agent_io.hpp"
#include "config/errc.hpp"
#include "config/logging.hpp"
#include "transport/sandbox/sandbox.hpp"

#include <utility>

namespace caa {

namespace {

/// A real process behind the interface.
class real_process final : public cli_process {
 public:
  explicit real_process(claude::agent_process p) : proc_(std::move(p)) {}

  pid_t pid() const noexcept override { return proc_.pid(); }
  caf::error write_line(std::string json) override { return proc_.write_line(std::move(json)); }
  void stop(std::chrono::milliseconds grace, std::chrono::milliseconds kill_after) override {
    proc_.stop(grace, kill_after);
  }
  void kill() override { proc_.kill(); }

 private:
  claude::agent_process proc_;
};

class process_launcher final : public cli_launcher {
 public:
  explicit process_launcher(agent_io& io) : io_(io) {}

  caf::expected<std::shared_ptr<cli_process>> launch(const claude::query_options& opts,
                                                     const claude::driver_config& driver,
                                                     claude::process_callbacks callbacks) override {
    auto spec = claude::make_spawn_spec(opts, driver);
    if (auto* box = io_.sandbox())
      if (auto err = box->prepare(spec, driver)) {
        log::error("cannot prepare the agent sandbox",
                   {.component = "session", .error_code = to_string(errc_of(err))});
        return err;
      }
    // Spawned on a CAF worker thread: it lives as long as the actor system, which is what
    // PR_SET_PDEATHSIG and bwrap's --die-with-parent need.
    auto p = claude::agent_process::spawn(io_.context(), spec, std::move(callbacks));
    if (!p) return p.error();
    return std::shared_ptr<cli_process>{std::make_shared<real_process>(std::move(*p))};
  }

 private:
  agent_io& io_;
};

}  // namespace

std::shared_ptr<cli_launcher> make_process_launcher(agent_io& io) {
  return std::make_shared<process_launcher>(io);
}

}  // namespace caa
