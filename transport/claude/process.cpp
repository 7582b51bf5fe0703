#include "transport/claude/process.hpp"

#include "config/errc.hpp"
#include "transport/claude/process_core.hpp"

namespace caa::claude {

namespace asio = boost::asio;

// -- agent_process ------------------------------------------------------------------------------

caf::expected<agent_process> agent_process::spawn(asio::io_context& io, const spawn_spec& spec,
                                                  process_callbacks callbacks) {
  auto child = spawn_child(spec);
  if (!child) return child.error();
  return adopt(io, *child, spec, std::move(callbacks));
}

agent_process agent_process::adopt(asio::io_context& io, const spawned_child& child,
                                   const spawn_spec& spec, process_callbacks callbacks) {
  auto core = std::make_shared<detail::process_core>(io, child, spec, std::move(callbacks));
  core->start();
  return agent_process{std::move(core)};
}

agent_process::agent_process(std::shared_ptr<detail::process_core> core) : core_(std::move(core)) {
  // nop
}

agent_process::agent_process(agent_process&&) noexcept = default;

agent_process& agent_process::operator=(agent_process&& other) noexcept {
  if (this != &other) {
    if (core_) core_->detach();
    core_ = std::move(other.core_);
  }
  return *this;
}

agent_process::~agent_process() {
  if (core_) core_->detach();
}

pid_t agent_process::pid() const noexcept {
  return core_ ? core_->pid() : -1;
}

bool agent_process::running() const noexcept {
  return core_ && core_->running();
}

caf::error agent_process::write_line(std::string json) {
  if (!core_) return make_error(errc::internal, "no agent process");
  return core_->write_line(std::move(json));
}

void agent_process::close_stdin() {
  if (core_) core_->close_stdin();
}

void agent_process::stop(std::chrono::milliseconds grace, std::chrono::milliseconds kill_after) {
  if (core_) core_->stop(grace, kill_after);
}

void agent_process::kill() {
  if (core_) core_->kill();
}

void agent_process::when_reaped(std::function<void()> f) {
  if (core_)
    core_->when_reaped(std::move(f));
  else
    f();  // no process behind this handle
}

void agent_process::pause_reading() {
  if (core_) core_->set_paused(true);
}

void agent_process::resume_reading() {
  if (core_) core_->set_paused(false);
}

}  // namespace caa::claude
