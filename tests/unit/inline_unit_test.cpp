// inline_unit: an actor woken by a plain thread's message runs on that thread at its next
// drain, for at most `budget` messages, in mailbox order; elsewhere nothing changes.

#include "actors/inline_unit.hpp"

#include "actors/agent_io.hpp"

#include <boost/asio/post.hpp>

#include <gtest/gtest.h>
#include <caf/all.hpp>

#include <chrono>
#include <condition_variable>
#include <future>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace {

using caa::inline_unit;

/// What the test actors saw: each message's number and the thread that handled it.
struct seen {
  std::mutex m;
  std::condition_variable cv;
  std::vector<std::pair<int, std::thread::id>> got;

  void add(int n) {
    std::lock_guard<std::mutex> lock{m};
    got.emplace_back(n, std::this_thread::get_id());
    cv.notify_all();
  }

  /// Waits until `n` messages were handled (a deadline, not a timing check), then returns them.
  std::vector<std::pair<int, std::thread::id>> wait_for(std::size_t n) {
    std::unique_lock<std::mutex> lock{m};
    cv.wait_for(lock, std::chrono::seconds{10}, [&] { return got.size() >= n; });
    return got;
  }

  /// The first message handled (waited for): its number and thread. A test none reached
  /// fails, and gets a number no test sends.
  std::pair<int, std::thread::id> first() {
    auto all = wait_for(1);
    if (all.empty()) {
      ADD_FAILURE() << "no message was handled";
      return {std::numeric_limits<int>::min(), std::thread::id{}};
    }
    return all.front();
  }

  std::size_t size() {
    std::lock_guard<std::mutex> lock{m};
    return got.size();
  }
};

/// Records every int it receives; quits on a negative one.
caf::behavior recorder(caf::event_based_actor* self, std::shared_ptr<seen> s) {
  return {[self, s](int n) {
    s->add(n);
    if (n < 0) self->quit();
  }};
}

/// Records an int, then passes it on to `next`.
caf::behavior relay(caf::event_based_actor* self, std::shared_ptr<seen> s, caf::actor next) {
  return {[self, s, next](int n) {
    s->add(n);
    self->send(next, n);
  }};
}

/// Keeps the promise of the request it gets (answered by the test); records other messages.
caf::behavior keeper(caf::event_based_actor* self,
                     std::shared_ptr<std::optional<caf::typed_response_promise<int>>> kept,
                     std::shared_ptr<seen> s) {
  return {[self, kept](int) -> caf::result<int> {
            *kept = self->make_response_promise<int>();
            return caf::delegated<int>{};
          },
          [s](const std::string&) { s->add(0); }};
}

/// Asks `to` for an int when told to; records the request sent, then the answer.
caf::behavior asker(caf::event_based_actor* self, caf::actor to, std::shared_ptr<seen> sent,
                    std::shared_ptr<seen> answers) {
  return {[self, to, sent, answers](int n) {
    self->request(to, caf::infinite, n).then([answers](int r) { answers->add(r); });
    sent->add(n);  // after the request is in `to`'s mailbox
  }};
}

/// Runs `f` with the unit of a new thread that has one (`inline_unit::scope`, which drains what
/// still waits as it ends); returns that thread's id.
template <class F>
std::thread::id on_a_thread_with_a_unit(F f) {
  std::thread::id id;
  std::thread t{[&] {
    inline_unit::scope scope;
    id = std::this_thread::get_id();
    f(*inline_unit::current());
  }};
  t.join();
  return id;
}

class inline_unit_test : public ::testing::Test {
 protected:
  /// An actor that has not run yet: the first message to it wakes it (a spawned actor runs
  /// its start on the scheduler, and a message that arrives meanwhile finds it awake).
  template <class F, class... Ts>
  caf::actor idle(F fun, Ts&&... xs) {
    return sys_.spawn<caf::lazy_init>(fun, std::forward<Ts>(xs)...);
  }

  caf::actor_system_config cfg_;
  caf::actor_system sys_{cfg_};
};

TEST_F(inline_unit_test, an_actor_woken_on_a_draining_thread_runs_there_at_the_drain) {
  auto s = std::make_shared<seen>();
  auto a = idle(recorder, s);
  std::size_t before_drain = 0;
  std::size_t waiting = 0;
  auto drainer = on_a_thread_with_a_unit([&](inline_unit& unit) {
    inline_unit::send(a, 1);
    waiting = unit.waiting();
    std::this_thread::sleep_for(std::chrono::milliseconds{50});  // no scheduler runs it
    before_drain = s->size();
    unit.drain();
  });
  EXPECT_EQ(waiting, 1u);
  EXPECT_EQ(before_drain, 0u);
  auto [n, on] = s->first();
  EXPECT_EQ(n, 1);
  EXPECT_EQ(on, drainer);
}

TEST_F(inline_unit_test, elsewhere_a_send_is_scheduled_as_usual) {
  auto s = std::make_shared<seen>();
  auto a = idle(recorder, s);
  ASSERT_EQ(inline_unit::current(), nullptr);
  inline_unit::send(a, 7);
  auto [n, on] = s->first();
  EXPECT_EQ(n, 7);
  EXPECT_NE(on, std::this_thread::get_id());
}

TEST_F(inline_unit_test, past_the_budget_the_actor_goes_on_on_the_scheduler_in_order) {
  auto s = std::make_shared<seen>();
  auto a = idle(recorder, s);
  constexpr int total = 3 * static_cast<int>(inline_unit::budget);
  auto drainer = on_a_thread_with_a_unit([&](inline_unit& unit) {
    for (int i = 0; i < total; ++i) inline_unit::send(a, i);
    EXPECT_EQ(unit.waiting(), 1u);  // one wake for the whole mailbox
    unit.drain();
  });
  auto got = s->wait_for(total);
  ASSERT_EQ(got.size(), static_cast<std::size_t>(total));
  std::size_t here = 0;
  for (int i = 0; i < total; ++i) {
    EXPECT_EQ(got[i].first, i);
    if (got[i].second == drainer) ++here;
  }
  // A prefix ran here (CAF counts the budget per round of its mailbox's queues), the rest
  // elsewhere.
  EXPECT_GE(here, 1u);
  EXPECT_LE(here, inline_unit::budget);
  for (std::size_t i = 0; i < here; ++i) EXPECT_EQ(got[i].second, drainer);
}

TEST_F(inline_unit_test, what_an_actor_running_here_wakes_runs_on_the_scheduler) {
  auto first = std::make_shared<seen>();
  auto second = std::make_shared<seen>();
  auto b = idle(recorder, second);
  auto a = idle(relay, first, b);
  auto drainer = on_a_thread_with_a_unit([&](inline_unit& unit) {
    inline_unit::send(a, 3);
    unit.drain();
    EXPECT_EQ(unit.waiting(), 0u);
  });
  EXPECT_EQ(first->first().second, drainer);
  auto [n, on] = second->first();
  EXPECT_NE(on, drainer);
  EXPECT_EQ(n, 3);
}

TEST_F(inline_unit_test, the_end_of_a_scope_runs_what_still_waits) {
  auto s = std::make_shared<seen>();
  auto a = idle(recorder, s);
  auto drainer = on_a_thread_with_a_unit([&](inline_unit&) { inline_unit::send(a, 5); });
  EXPECT_EQ(s->first().second, drainer);
}

TEST_F(inline_unit_test, handed_over_the_actor_runs_on_the_scheduler) {
  auto s = std::make_shared<seen>();
  auto a = idle(recorder, s);
  auto drainer = on_a_thread_with_a_unit([&](inline_unit& unit) {
    inline_unit::send(a, 9);
    unit.hand_over();
    EXPECT_EQ(unit.waiting(), 0u);
  });
  auto [n, on] = s->first();
  EXPECT_EQ(n, 9);
  EXPECT_NE(on, drainer);
}

TEST_F(inline_unit_test, an_actor_that_ends_here_is_gone) {
  auto s = std::make_shared<seen>();
  auto a = idle(recorder, s);
  caf::scoped_actor self{sys_};
  self->monitor(a);
  on_a_thread_with_a_unit([&](inline_unit& unit) {
    inline_unit::send(a, -1);
    unit.drain();
  });
  bool down = false;
  self->receive([&](const caf::down_msg& d) { down = d.source == a.address(); },
                caf::after(std::chrono::seconds{10}) >> [] {});
  EXPECT_TRUE(down);
  a = nullptr;  // the last reference: the actor system's end does not wait for it
}

TEST_F(inline_unit_test, another_thread_that_finds_the_unit_as_a_context_goes_to_the_scheduler) {
  auto kept = std::make_shared<std::optional<caf::typed_response_promise<int>>>();
  auto ran = std::make_shared<seen>();
  auto sent = std::make_shared<seen>();
  auto answers = std::make_shared<seen>();
  auto a = idle(keeper, kept, ran);
  auto b = idle(asker, a, sent, answers);
  std::promise<void> release;
  std::promise<void> drained;
  std::thread::id drainer;
  std::thread t{[&] {
    inline_unit::scope scope;
    drainer = std::this_thread::get_id();
    inline_unit::send(a, std::string{"x"});  // `a` waits for this thread
    caf::anon_send(b, 7);                    // b's request joins a's mailbox meanwhile
    sent->wait_for(1);
    inline_unit::current()->drain();  // `a` keeps the promise here: its context is this unit
    drained.set_value();
    release.get_future().wait();  // the unit lives on, and drains nothing
  }};
  drained.get_future().wait();
  EXPECT_EQ(ran->first().second, drainer);
  ASSERT_TRUE(kept->has_value());
  (*kept)->deliver(42);  // from this thread: CAF hands `b` to a's context, the unit above
  auto [n, on] = answers->first();
  release.set_value();
  t.join();
  EXPECT_EQ(n, 42);
  EXPECT_NE(on, drainer);
}

/// Posts a handler to `io` that sends `n` to `to` as an agent's output is sent; returns the
/// thread the handler ran on.
std::thread::id send_from_io(caa::agent_io& io, const caf::actor& to, int n) {
  std::promise<std::thread::id> on;
  auto ran = on.get_future();
  boost::asio::post(io.context(), [&] {
    inline_unit::send(to, n);
    on.set_value(std::this_thread::get_id());
  });
  EXPECT_EQ(ran.wait_for(std::chrono::seconds{10}), std::future_status::ready);
  return ran.get();
}

TEST_F(inline_unit_test, the_agent_io_threads_run_what_they_wake_until_told_to_stop) {
  caa::agent_io io{1, 1};
  auto s = std::make_shared<seen>();
  auto a = idle(recorder, s);
  auto io_thread = send_from_io(io, a, 1);
  EXPECT_EQ(s->first().second, io_thread);
  io.stop_inline();  // what the service does before its actors stop
  auto b = idle(recorder, s);
  EXPECT_EQ(send_from_io(io, b, 2), io_thread);
  auto got = s->wait_for(2);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1].first, 2);
  EXPECT_NE(got[1].second, io_thread);
}

}  // namespace
