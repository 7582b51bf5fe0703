#include "actors/inline_unit.hpp"

#include <caf/abstract_actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/scheduler/abstract_coordinator.hpp>

namespace caa {

namespace {

thread_local inline_unit* this_thread_unit = nullptr;

/// The system of the actor CAF asks to run (every job CAF hands an execution unit is one).
caf::actor_system& home_of(caf::resumable* job) {
  return dynamic_cast<caf::abstract_actor&>(*job).home_system();
}

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
  if (this_thread_unit == this && sending_ && !draining_) {
    sending_ = false;  // one wake per send
    woken_.push_back(job);
    return;
  }
  home_of(job).scheduler().enqueue(job);
}

void inline_unit::drain() {
  if (woken_.empty() || draining_) return;
  draining_ = true;
  running_.swap(woken_);
  for (auto* job : running_) run(job);
  running_.clear();
  draining_ = false;
}

void inline_unit::hand_over() {
  if (draining_) return;
  for (auto* job : woken_) home_of(job).scheduler().enqueue(job);
  woken_.clear();
}

void inline_unit::run(caf::resumable* job) {
  system_ = &home_of(job);
  switch (job->resume(this, budget)) {
    case caf::resumable::resume_later:
      system_->scheduler().enqueue(job);  // keeps the reference the wake took
      break;
    case caf::resumable::done:
    case caf::resumable::awaiting_message:
      intrusive_ptr_release(job);
      break;
    case caf::resumable::shutdown_execution_unit:
      break;  // only the scheduler's own shutdown jobs answer this
  }
}

}  // namespace caa
