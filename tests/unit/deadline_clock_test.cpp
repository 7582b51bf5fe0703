// The service's scheduler and its clock (actors/deadline_clock.hpp): delayed messages and
// timeouts fire as with CAF's clock, in due order, an entry due before the one the clock sleeps
// for wakes it, cancelled timeouts do not fire, and timers set from many threads all fire.
// (Deadlines below are generous bounds on waits, not timing checks.)

#include "actors/deadline_clock.hpp"
#include "actors/system_config.hpp"

#include <caf/all.hpp>
#include <caf/detail/thread_safe_actor_clock.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <typeinfo>
#include <vector>

namespace {

using namespace std::chrono_literals;

class deadline_clock_test : public ::testing::Test {
 protected:
  caa::system_config cfg_{caa::settings{}};
  caf::actor_system sys_{cfg_};
};

/// The next string `self` receives, or "none" after 10 s.
std::string next_string(caf::scoped_actor& self) {
  std::string out = "none";
  self->receive([&](const std::string& s) { out = s; }, caf::after(10s) >> [] {});
  return out;
}

TEST_F(deadline_clock_test, the_service_scheduler_brings_its_own_clock) {
  EXPECT_NE(typeid(sys_.clock()), typeid(caf::detail::thread_safe_actor_clock));
  caf::scoped_actor self{sys_};
  self->delayed_send(self, 10ms, std::string{"due"});
  EXPECT_EQ(next_string(self), "due");
}

// The clock sleeps until the entry due in a minute; one due sooner must wake it.
TEST_F(deadline_clock_test, an_entry_due_sooner_wakes_the_sleeping_clock) {
  caf::scoped_actor self{sys_};
  self->delayed_send(self, 60s, std::string{"late"});
  std::this_thread::sleep_for(50ms);  // the clock is asleep until the late one
  self->delayed_send(self, 20ms, std::string{"early"});
  EXPECT_EQ(next_string(self), "early");
}

TEST_F(deadline_clock_test, delayed_messages_arrive_in_due_order) {
  caf::scoped_actor self{sys_};
  self->delayed_send(self, 600ms, std::string{"third"});
  self->delayed_send(self, 200ms, std::string{"first"});
  self->delayed_send(self, 400ms, std::string{"second"});
  EXPECT_EQ(next_string(self), "first");
  EXPECT_EQ(next_string(self), "second");
  EXPECT_EQ(next_string(self), "third");
}

/// Never answers: its requesters' timeouts fire.
caf::behavior silent(caf::event_based_actor* self) {
  return {[self](int) -> caf::result<int> { return self->make_response_promise<int>(); }};
}

TEST_F(deadline_clock_test, a_request_without_an_answer_times_out) {
  auto mute = sys_.spawn(silent);
  caf::scoped_actor self{sys_};
  caf::error got;
  self->request(mute, 100ms, 1).receive([](int) {}, [&](caf::error& e) { got = std::move(e); });
  EXPECT_EQ(got, caf::sec::request_timeout);
  self->send_exit(mute, caf::exit_reason::user_shutdown);
}

/// Counts its messages; after 2 s without one it reports `fired` to `watcher`. Each message
/// resets that timeout (CAF cancels the previous one and sets a new one).
caf::behavior quiet_watch(caf::event_based_actor* self, caf::actor watcher) {
  return {[](int) {}, caf::after(2s) >>
                          [self, watcher] {
                            self->send(watcher, std::string{"fired"});
                            self->quit();
                          }};
}

TEST_F(deadline_clock_test, a_reset_timeout_fires_only_after_the_last_reset) {
  caf::scoped_actor self{sys_};
  auto watch = sys_.spawn(quiet_watch, caf::actor{self});
  for (int i = 0; i < 10; ++i) {  // 0.5 s of messages, each well inside the 2 s
    self->send(watch, i);
    std::this_thread::sleep_for(50ms);
  }
  bool early = false;
  self->receive([&](const std::string&) { early = true; }, caf::after(100ms) >> [] {});
  EXPECT_FALSE(early) << "the timeout fired although each message reset it";
  EXPECT_EQ(next_string(self), "fired");
}

/// Counts the strings it gets into `n`.
caf::behavior counter(caf::event_based_actor*, std::shared_ptr<std::atomic<int>> n) {
  return {[n](const std::string&) { ++*n; }};
}

TEST_F(deadline_clock_test, timers_set_from_many_threads_all_fire) {
  auto n = std::make_shared<std::atomic<int>>(0);
  auto sink = sys_.spawn(counter, n);
  std::vector<std::thread> setters;
  for (int t = 0; t < 4; ++t)
    setters.emplace_back([&, t] {
      for (int i = 0; i < 250; ++i)
        caf::delayed_anon_send(sink, std::chrono::milliseconds{(t * 250 + i) % 50},
                               std::string{"x"});
    });
  for (auto& s : setters) s.join();
  for (int waited = 0; *n < 1000 && waited < 1000; ++waited) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(*n, 1000);
  caf::anon_send_exit(sink, caf::exit_reason::user_shutdown);
}

}  // namespace
