// The session forwarder against a fake session actor, on CAF's test coordinator (virtual time):
// what it relays, what it refuses without asking the session, and when it ends.

#include "actors/session_forwarder.hpp"
#include "config/errc.hpp"
#include "tests/unit/actor_test_support.hpp"

#include <gtest/gtest.h>

#include <caf/all.hpp>
#include <caf/scheduler/test_coordinator.hpp>

#include <memory>
#include <optional>
#include <variant>
#include <vector>

namespace caa {
namespace {

using namespace std::chrono_literals;

/// What the fake session received, and how it answers.
struct session_log {
  bool idle = false;       ///< interrupt answers session_idle
  bool silent = false;     ///< interrupt is never answered (its promise is kept here)
  bool running = false;    ///< busy answers true (a turn runs on the owner)
  bool slow_runs = false;  ///< a portable run is never answered (its promise is kept here)
  std::vector<caf::typed_response_promise<turn_accepted>> held_runs;
  int interrupts = 0;
  int removes = 0;
  int busies = 0;
  int local_only = 0;  ///< run, subscribe and rewind with local payloads: never forwarded
  std::vector<portable_turn> turns;  ///< portable runs received
  std::vector<std::string> rewinds;  ///< checkpoint ids of portable rewinds received
  int hibernations = 0;
  std::vector<pending_answer> answers;
  std::vector<live_control> controls;
  std::vector<caf::typed_response_promise<bool>> held;
};

struct fake_session_state {
  static inline const char* name = "fake_session";
};

caf::behavior fake_session(caf::stateful_actor<fake_session_state>* self,
                           const std::shared_ptr<session_log>& log) {
  return test_support::session_behavior_with_inert_internals(
      [=](atom::interrupt) -> caf::result<bool> {
        ++log->interrupts;
        if (log->idle) return make_error(errc::session_idle, "fake");
        if (!log->silent) return true;
        auto rp = self->make_response_promise<bool>();
        log->held.push_back(rp);
        return rp;
      },
      [=](atom::answer, pending_answer& x) -> caf::result<bool> {
        log->answers.push_back(x);
        if (x.request_id == "bad") return make_error(errc::validation, "fake");
        return true;
      },
      [=](atom::control, live_control& x) -> caf::result<std::string> {
        log->controls.push_back(x);
        return std::string{"applied"};
      },
      [=](atom::remove) -> caf::result<bool> {
        ++log->removes;
        return true;
      },
      [=](atom::busy) -> caf::result<bool> {
        ++log->busies;
        return log->running;
      },
      [=](atom::run, turn_spec_ptr&) -> caf::result<turn_accepted> {
        ++log->local_only;
        return turn_accepted{};
      },
      [=](atom::subscribe, event_sink_ptr&, uint64_t) -> caf::result<uint64_t> {
        ++log->local_only;
        return uint64_t{0};
      },
      [=](atom::subscribe, caf::actor&, uint64_t) -> caf::result<uint64_t> {
        return make_error(errc::unavailable, "fake: no remote subscriptions");
      },
      [=](atom::rewind, std::string&, bool, turn_spec_ptr&) -> caf::result<std::string> {
        ++log->local_only;
        return std::string{};
      },
      [=](atom::run, portable_turn& t) -> caf::result<turn_accepted> {
        log->turns.push_back(t);
        if (log->slow_runs) {
          auto rp = self->make_response_promise<turn_accepted>();
          log->held_runs.push_back(rp);
          return rp;
        }
        if (log->running) return make_error(errc::session_locked, "fake: a turn runs");
        return turn_accepted{"s-1", 12, 3};
      },
      [=](atom::rewind, std::string& id, bool dry_run,
          portable_turn& t) -> caf::result<std::string> {
        log->rewinds.push_back(id);
        log->turns.push_back(t);
        return std::string{dry_run ? "dry" : "done"};
      },
      [=](atom::hibernate) { ++log->hibernations; }, [=](atom::drain) { ++log->hibernations; });
}

/// An answer recorded by a one-shot client actor: nothing yet, a value, or the errc.
template <class T>
using answer = std::shared_ptr<std::optional<std::variant<T, errc>>>;

template <class T>
T value_of(const answer<T>& a) {
  EXPECT_TRUE(*a && std::holds_alternative<T>(**a)) << "no value";
  return *a && std::holds_alternative<T>(**a) ? std::get<T>(**a) : T{};
}

template <class T>
std::optional<errc> error_of(const answer<T>& a) {
  if (!*a || !std::holds_alternative<errc>(**a)) return std::nullopt;
  return std::get<errc>(**a);
}

class session_forwarder_test : public ::testing::Test {
 protected:
  session_forwarder_test()
      : sys(cfg), sched(dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler())) {
    session = caf::actor_cast<session_actor>(sys.spawn(fake_session, log));
    fwd = spawn_session_forwarder(sys, session, "node-b", 5s, 60s);
    spawned = {caf::actor_cast<caf::actor>(session), caf::actor_cast<caf::actor>(fwd)};
    watch(fwd);
    sched.run();
  }

  ~session_forwarder_test() override {
    for (auto& a : spawned) caf::anon_send_exit(a, caf::exit_reason::kill);
    sched.run();
  }

  /// Sends `xs` to the forwarder from a one-shot client; the reply or errc lands in the result.
  template <class T, class... Ts>
  answer<T> ask(Ts... xs) {
    auto out = std::make_shared<std::optional<std::variant<T, errc>>>();
    auto c = sys.spawn(
        [](caf::event_based_actor* self, session_actor dst, answer<T> res, Ts... ys) {
          self->request(dst, caf::infinite, ys...)
              .then([res](T& x) { *res = std::move(x); },
                    [res](caf::error& e) { *res = errc_of(e); });
        },
        fwd, out, xs...);
    spawned.push_back(c);
    sched.run();
    return out;
  }

  /// Sets `forwarder_down` when `x` ends.
  void watch(const session_actor& x) {
    auto c = sys.spawn(
        [](caf::event_based_actor* self, const session_actor& target,
           const std::shared_ptr<bool>& flag) -> caf::behavior {
          self->monitor(target);
          self->set_down_handler([flag](const caf::down_msg&) { *flag = true; });
          // A behavior keeps the watcher alive until the test ends it.
          return {[](const std::string&) {}};
        },
        x, forwarder_down);
    spawned.push_back(c);
  }

  void advance(caf::timespan d) {
    sched.advance_time(d);
    sched.run();
  }

  test_support::coordinator_config cfg;
  caf::actor_system sys;
  caf::scheduler::test_coordinator& sched;
  std::shared_ptr<session_log> log = std::make_shared<session_log>();
  std::shared_ptr<bool> forwarder_down = std::make_shared<bool>(false);
  session_actor session;
  session_actor fwd;
  std::vector<caf::actor> spawned;
};

TEST_F(session_forwarder_test, relays_requests_and_their_replies) {
  EXPECT_TRUE(value_of(ask<bool>(atom::interrupt_v)));
  EXPECT_EQ(log->interrupts, 1);
  pending_answer pa;
  pa.request_id = "req-1";
  pa.behavior = "allow";
  EXPECT_TRUE(value_of(ask<bool>(atom::answer_v, pa)));
  ASSERT_EQ(log->answers.size(), 1u);
  EXPECT_EQ(log->answers[0].request_id, "req-1");
  EXPECT_EQ(log->answers[0].behavior, "allow");
  EXPECT_EQ(value_of(ask<std::string>(atom::control_v, live_control{"model", "opus", "{}"})),
            "applied");
  ASSERT_EQ(log->controls.size(), 1u);
  EXPECT_EQ(log->controls[0].kind, "model");
  EXPECT_EQ(log->controls[0].value, "opus");
  EXPECT_FALSE(value_of(ask<bool>(atom::busy_v)));
  EXPECT_EQ(log->busies, 1);
  EXPECT_TRUE(value_of(ask<bool>(atom::remove_v)));
  EXPECT_EQ(log->removes, 1);
}

TEST_F(session_forwarder_test, relays_the_sessions_errors_unchanged) {
  log->idle = true;
  EXPECT_EQ(error_of(ask<bool>(atom::interrupt_v)), errc::session_idle);
  pending_answer pa;
  pa.request_id = "bad";
  EXPECT_EQ(error_of(ask<bool>(atom::answer_v, pa)), errc::validation);
}

TEST_F(session_forwarder_test, forwards_turns_and_rewinds_in_portable_form) {
  auto spec = std::make_shared<turn_spec>();
  spec->prompt = "go on";
  spec->options_json = R"({"max_turns":2})";
  spec->driver.tenant_id = "t-1";
  spec->driver.config_dir = "/local/only";
  spec->tenant_name = "acme";
  spec->agent_slot = 5;
  auto acc = value_of(ask<turn_accepted>(atom::run_v, turn_spec_ptr{spec}));
  EXPECT_EQ(acc.session_id, "s-1");
  EXPECT_EQ(acc.after_seq, 12u);
  EXPECT_EQ(acc.turn, 3u);
  ASSERT_EQ(log->turns.size(), 1u);
  EXPECT_EQ(log->turns[0].prompt, "go on");
  EXPECT_EQ(log->turns[0].options_json, R"({"max_turns":2})");
  EXPECT_EQ(log->turns[0].tenant_id, "t-1");
  EXPECT_EQ(log->turns[0].tenant_name, "acme");
  EXPECT_EQ(log->turns[0].agent_slot, 5);
  EXPECT_EQ(
      value_of(ask<std::string>(atom::rewind_v, std::string{"cp"}, true, turn_spec_ptr{spec})),
      "dry");
  ASSERT_EQ(log->rewinds.size(), 1u);
  EXPECT_EQ(log->rewinds[0], "cp");
  // The owner's refusal comes back as it is (session_locked while a turn runs there).
  log->running = true;
  EXPECT_EQ(error_of(ask<turn_accepted>(atom::run_v, turn_spec_ptr{spec})), errc::session_locked);
  EXPECT_EQ(log->local_only, 0) << "no local payload crossed";
}

TEST_F(session_forwarder_test, a_turn_waits_for_the_owner_longer_than_a_short_request) {
  log->slow_runs = true;
  auto run = ask<turn_accepted>(atom::run_v, std::make_shared<const turn_spec>());
  ASSERT_EQ(log->held_runs.size(), 1u) << "the turn reached the owner";
  advance(5s);
  EXPECT_FALSE(*run) << "5 s is the deadline of a short request, not of a turn";
  advance(55s);
  EXPECT_EQ(error_of(run), errc::unavailable) << "the turn's own deadline (60 s here) passed";
}

TEST_F(session_forwarder_test, refuses_local_only_requests_without_asking_the_session) {
  EXPECT_EQ(error_of(ask<turn_accepted>(atom::run_v, turn_spec_ptr{})), errc::unavailable);
  EXPECT_EQ(error_of(ask<uint64_t>(atom::subscribe_v, event_sink_ptr{}, uint64_t{0})),
            errc::unavailable);
  EXPECT_EQ(error_of(ask<std::string>(atom::rewind_v, std::string{"cp"}, false, turn_spec_ptr{})),
            errc::unavailable);
  EXPECT_EQ(log->local_only, 0);
  caf::anon_send(fwd, atom::hibernate_v);
  caf::anon_send(fwd, atom::drain_v);
  sched.run();
  EXPECT_EQ(log->hibernations, 0);
  EXPECT_FALSE(*forwarder_down);
}

TEST_F(session_forwarder_test, a_request_without_reply_in_time_is_unavailable) {
  log->silent = true;
  auto a = ask<bool>(atom::interrupt_v);
  EXPECT_FALSE(*a);
  advance(5s);
  EXPECT_EQ(error_of(a), errc::unavailable);
}

TEST_F(session_forwarder_test, ends_with_the_session_and_fails_what_is_in_flight) {
  log->silent = true;
  auto a = ask<bool>(atom::interrupt_v);
  ASSERT_EQ(log->held.size(), 1u) << "the request reached the session";
  EXPECT_FALSE(*a);
  caf::anon_send_exit(session, caf::exit_reason::kill);
  sched.run();
  EXPECT_EQ(error_of(a), errc::unavailable);
  EXPECT_TRUE(*forwarder_down);
}

TEST_F(session_forwarder_test, ends_after_a_minute_without_requests) {
  advance(59s);
  EXPECT_FALSE(value_of(ask<bool>(atom::busy_v)));
  EXPECT_EQ(log->busies, 1);
  advance(59s);
  EXPECT_FALSE(*forwarder_down) << "the request started a new idle period";
  advance(1s);
  EXPECT_TRUE(*forwarder_down);
}

}  // namespace
}  // namespace caa
