#include "actors/inline_unit.hpp"

#include <caf/actor_system.hpp>
#include <caf/scheduler/abstract_coordinator.hpp>

namespace caa {

namespace {

thread_local inline_unit* this_thread_unit = nullptr;

}  // namespace

inline_unit::scope::scope() : previous_(this_thread_unit) {
  this_thread_unit = new inline_unit;
}

inline_unit::scope::~scope() {
  auto* unit = this_thread_unit;
  this_thread_unit = previous_;
  unit->drain();  // nothing woken here may wait for a drain that never comes
  delete unit;
}

inline_unit::~inline_unit() = default;

inline_unit* inline_unit::current() noexcept {
  return this_thread_unit;
}

void inline_unit::exec_later(caf::resumable* job) {
  auto* sys = std::exchange(sending_to_, nullptr);
  if (sys != nullptr && !draining_) {
    woken_.push_back({job, sys});
    return;
  }
  // Woken by an actor running here, or by a send from inside one: the scheduler runs it.
  (sys != nullptr ? *sys : system()).scheduler().enqueue(job);
}

void inline_unit::drain() {
  if (woken_.empty() || draining_) return;
  draining_ = true;
  running_.swap(woken_);
  for (const auto& w : running_) run(w);
  running_.clear();
  draining_ = false;
}

void inline_unit::hand_over() {
  if (draining_) return;
  for (const auto& w : woken_) w.sys->scheduler().enqueue(w.job);
  woken_.clear();
}

void inline_unit::run(const woken& w) {
  system_ = w.sys;
  switch (w.job->resume(this, budget)) {
    case caf::resumable::resume_later:
      w.sys->scheduler().enqueue(w.job);  // keeps the reference the wake took
      break;
    case caf::resumable::done:
    case caf::resumable::awaiting_message:
      intrusive_ptr_release(w.job);
      break;
    case caf::resumable::shutdown_execution_unit:
      break;  // only the scheduler's own shutdown jobs answer this
  }
}

}  // namespace caa
