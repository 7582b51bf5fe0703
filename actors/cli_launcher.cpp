#include "actors/cli_launcher.hpp"

#include "actors/agent_io.hpp"
#include "config/errc.hpp"
#include "config/logging.hpp"
#include "transport/sandbox/sandbox.hpp"

#include <utility>
#include <vector>

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
  void when_reaped(std::function<void()> f) override { proc_.when_reaped(std::move(f)); }

 private:
  claude::agent_process proc_;
};

/// Output handlers that drop everything (for a process killed unserved).
claude::process_callbacks ignore_output() {
  claude::process_callbacks cb;
  cb.on_lines = [](const std::vector<std::string>&) {};
  cb.on_oversized = [](std::size_t) {};
  return cb;
}

/// A child started on a launch thread, waiting for its session.
class started_process final : public started_cli {
 public:
  started_process(agent_io& io, claude::spawned_child child, claude::spawn_spec spec)
      : io_(io), child_(child), spec_(std::move(spec)) {}

  ~started_process() override {
    if (!served_)  // adopted only to be killed and reaped by the I/O threads
      claude::agent_process::adopt(io_.context(), child_, spec_, ignore_output()).kill();
  }

  started_process(const started_process&) = delete;
  started_process& operator=(const started_process&) = delete;

  caf::expected<std::shared_ptr<cli_process>> serve(claude::process_callbacks callbacks) override {
    if (std::exchange(served_, true)) return make_error(errc::internal, "served twice");
    auto p = claude::agent_process::adopt(io_.context(), child_, spec_, std::move(callbacks));
    return std::shared_ptr<cli_process>{std::make_shared<real_process>(std::move(p))};
  }

  void discard(std::function<void()> gone) override {
    if (std::exchange(served_, true)) {  // never: a start is served or discarded, not both
      gone();
      return;
    }
    auto p = claude::agent_process::adopt(io_.context(), child_, spec_, ignore_output());
    p.when_reaped(std::move(gone));
    p.kill();
  }

 private:
  agent_io& io_;
  claude::spawned_child child_;
  claude::spawn_spec spec_;
  bool served_ = false;
};

/// Prepares the sandbox and starts the child on the calling thread: the part that blocks.
cli_start_result start_blocking(agent_io& io, const claude::query_options& opts,
                                const claude::driver_config& driver) {
  auto spec = claude::make_spawn_spec(opts, driver);
  if (auto* box = io.sandbox())
    if (auto err = box->prepare(spec, driver)) {
      log::error("cannot prepare the agent sandbox",
                 {.component = "session", .error_code = to_string(errc_of(err))});
      return {nullptr, std::move(err)};
    }
  auto child = claude::spawn_child(spec);
  if (!child) return {nullptr, std::move(child.error())};
  return {std::make_unique<started_process>(io, *child, std::move(spec)), caf::error{}};
}

class process_launcher final : public cli_launcher {
 public:
  explicit process_launcher(agent_io& io) : io_(io) {}

  caf::expected<std::shared_ptr<cli_process>> launch(const claude::query_options& opts,
                                                     const claude::driver_config& driver,
                                                     claude::process_callbacks callbacks) override {
    // On a CAF worker thread: it lives as long as the actor system, which is what
    // PR_SET_PDEATHSIG and bwrap's --die-with-parent need.
    auto started = start_blocking(io_, opts, driver);
    if (!started.cli) return std::move(started.error);
    return started.cli->serve(std::move(callbacks));
  }

  void start(const claude::query_options& opts, const claude::driver_config& driver,
             const std::function<void(cli_start_result)>& done) override {
    // `io` outlives every job of its launch threads; this launcher may not.
    io_.launch([io = &io_, opts, driver, done] { done(start_blocking(*io, opts, driver)); });
  }

 private:
  agent_io& io_;
};

/// Starts the process when it is served: for launchers that do not block.
class deferred_start final : public started_cli {
 public:
  deferred_start(cli_launcher& launcher, claude::query_options opts, claude::driver_config driver)
      : launcher_(launcher), opts_(std::move(opts)), driver_(std::move(driver)) {}

  caf::expected<std::shared_ptr<cli_process>> serve(claude::process_callbacks callbacks) override {
    return launcher_.launch(opts_, driver_, std::move(callbacks));
  }

  void discard(std::function<void()> gone) override { gone(); }  // nothing was started

 private:
  cli_launcher& launcher_;
  claude::query_options opts_;
  claude::driver_config driver_;
};

}  // namespace

namespace {

/// Kills what `r` started (if anything); `gone` runs once it has been reaped.
void discard(cli_start_result& r, std::function<void()> gone) {
  if (r.cli)
    r.cli->discard(std::move(gone));
  else
    gone();
}

}  // namespace

bool pending_start::complete(cli_start_result r) {
  std::function<void()> gone;
  {
    std::lock_guard<std::mutex> lock{mutex_};
    result_ = std::move(r);
    done_ = true;
    if (!abandoned_) return true;
    gone = std::move(when_gone_);
  }
  discard(result_, std::move(gone));
  return false;
}

void pending_start::abandon(std::function<void()> gone) {
  {
    std::lock_guard<std::mutex> lock{mutex_};
    if (std::exchange(abandoned_, true)) return;
    if (!done_) {
      when_gone_ = std::move(gone);
      return;
    }
  }
  discard(result_, std::move(gone));
}

void cli_launcher::start(const claude::query_options& opts, const claude::driver_config& driver,
                         const std::function<void(cli_start_result)>& done) {
  done({std::make_unique<deferred_start>(*this, opts, driver), caf::error{}});
}

std::shared_ptr<cli_launcher> make_process_launcher(agent_io& io) {
  return std::make_shared<process_launcher>(io);
}

}  // namespace caa
