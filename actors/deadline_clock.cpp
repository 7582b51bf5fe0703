#include "actors/deadline_clock.hpp"

#include <caf/atom.hpp>
#include <caf/config_value.hpp>
#include <caf/detail/set_thread_name.hpp>
#include <caf/detail/thread_safe_actor_clock.hpp>
#include <caf/policy/work_sharing.hpp>
#include <caf/policy/work_stealing.hpp>
#include <caf/scheduler/coordinator.hpp>
#include <caf/scheduler/test_coordinator.hpp>

#include <condition_variable>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace caa {

namespace {

/// CAF's schedule of timeouts and delayed messages, changed under a mutex by the calling thread;
/// its thread sleeps until the earliest entry and is woken only for an earlier one. (It derives
/// from CAF's thread-safe clock because the coordinator's `clock()` returns that type; nothing
/// of that class's queue is used.)
class deadline_clock final : public caf::detail::thread_safe_actor_clock {
 public:
  using simple = caf::detail::simple_actor_clock;

  // Each change calls `simple_actor_clock`'s own implementation, which changes the schedule in
  // place, skipping the parent's, which would queue it for the parent's thread.
  // NOLINTBEGIN(bugprone-parent-virtual-call)

  void set_ordinary_timeout(time_point t, caf::abstract_actor* self, caf::atom_value type,
                            uint64_t id) override {
    std::lock_guard<std::mutex> lock{mutex_};
    simple::set_ordinary_timeout(t, self, type, id);
    wake_for(t);
  }

  void set_request_timeout(time_point t, caf::abstract_actor* self, caf::message_id id) override {
    std::lock_guard<std::mutex> lock{mutex_};
    simple::set_request_timeout(t, self, id);
    wake_for(t);
  }

  void set_multi_timeout(time_point t, caf::abstract_actor* self, caf::atom_value type,
                         uint64_t id) override {
    std::lock_guard<std::mutex> lock{mutex_};
    simple::set_multi_timeout(t, self, type, id);
    wake_for(t);
  }

  // A cancellation never wakes the thread: when the entry it removes was the earliest, the
  // thread wakes at that time, finds nothing due and sleeps until the next one. (The removed
  // entry holds the caller, which is running, so its end here destroys no actor.)
  void cancel_ordinary_timeout(caf::abstract_actor* self, caf::atom_value type) override {
    std::lock_guard<std::mutex> lock{mutex_};
    simple::cancel_ordinary_timeout(self, type);
  }

  void cancel_request_timeout(caf::abstract_actor* self, caf::message_id id) override {
    std::lock_guard<std::mutex> lock{mutex_};
    simple::cancel_request_timeout(self, id);
  }

  void cancel_timeouts(caf::abstract_actor* self) override {
    std::lock_guard<std::mutex> lock{mutex_};
    simple::cancel_timeouts(self);
  }

  void schedule_message(time_point t, caf::strong_actor_ptr receiver,
                        caf::mailbox_element_ptr content) override {
    std::lock_guard<std::mutex> lock{mutex_};
    simple::schedule_message(t, std::move(receiver), std::move(content));
    wake_for(t);
  }

  void schedule_message(time_point t, caf::group target, caf::strong_actor_ptr sender,
                        caf::message content) override {
    std::lock_guard<std::mutex> lock{mutex_};
    simple::schedule_message(t, std::move(target), std::move(sender), std::move(content));
    wake_for(t);
  }
  // NOLINTEND(bugprone-parent-virtual-call)

  void cancel_all() override {
    schedule_map schedule;
    actor_lookup_map lookup;
    std::lock_guard<std::mutex> lock{mutex_};
    schedule.swap(schedule_);
    lookup.swap(actor_lookup_);
    // The entries end after the lock (declared before it): an entry's end may end an actor.
  }

  /// The clock's thread: sends each entry when it is due, until `stop`.
  void run() {
    std::unique_lock<std::mutex> lock{mutex_};
    while (!stopping_) {
      if (schedule_.empty()) {
        sleeps_until_ = time_point::max();
        wake_.wait(lock);
        continue;
      }
      auto due = schedule_.begin()->first;
      if (due > now()) {
        sleeps_until_ = due;
        wake_.wait_until(lock, due);
        continue;
      }
      sleeps_until_ = time_point::min();  // awake: setters need not wake it
      auto expired = take_expired();
      lock.unlock();
      for (auto& entry : expired) ship(*entry);
      expired.clear();
      lock.lock();
    }
  }

  /// Ends `run`; what is still scheduled is dropped (as CAF's clock does at shutdown).
  void stop() {
    {
      std::lock_guard<std::mutex> lock{mutex_};
      stopping_ = true;
      wake_.notify_one();
    }
    cancel_all();
  }

 private:
  /// Wakes the thread when `t` comes before the time it sleeps until (under the lock).
  void wake_for(time_point t) {
    if (t >= sleeps_until_) return;
    sleeps_until_ = t;
    wake_.notify_one();
  }

  /// The entries due now, taken out of the schedule (under the lock).
  std::vector<unique_delayed_event_ptr> take_expired() {
    std::vector<unique_delayed_event_ptr> out;
    auto t = now();
    auto i = schedule_.begin();
    while (i != schedule_.end() && i->first <= t) {
      auto backlink = i->second->backlink;
      if (backlink != actor_lookup_.end()) actor_lookup_.erase(backlink);
      out.push_back(std::move(i->second));
      i = schedule_.erase(i);
    }
    return out;
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  time_point sleeps_until_ = time_point::min();  ///< min: the thread is not asleep
  bool stopping_ = false;
};

using work_stealing = caf::scheduler::coordinator<caf::policy::work_stealing>;

/// CAF's work-stealing scheduler with the clock above (CAF's own clock thread still starts with
/// the scheduler, and waits, unused, until it stops).
class scheduler final : public work_stealing {
 public:
  explicit scheduler(caf::actor_system& sys) : work_stealing(sys) {}

  deadline_clock& clock() noexcept override { return clock_; }

 protected:
  void start() override {
    thread_ = std::thread{[this] {
      caf::detail::set_thread_name("caa.clock");
      system().thread_started();
      clock_.run();
      system().thread_terminates();
    }};
    work_stealing::start();
  }

  void stop() override {
    work_stealing::stop();  // the workers first: they may still set timers
    clock_.stop();
    if (thread_.joinable()) thread_.join();
  }

 private:
  deadline_clock clock_;
  std::thread thread_;
};

}  // namespace

caf::actor_system::module* make_scheduler(caf::actor_system& sys) {
  // The other policies a configuration may ask for, as CAF would make them (the unit tests'
  // deterministic `testing` scheduler has a clock of its own).
  auto policy = caf::get_or(sys.config(), "scheduler.policy", caf::atom("stealing"));
  if (policy == caf::atom("testing")) return new caf::scheduler::test_coordinator(sys);
  if (policy == caf::atom("sharing"))
    return new caf::scheduler::coordinator<caf::policy::work_sharing>(sys);
  return new scheduler(sys);
}

}  // namespace caa
