// `async_request` through request edges: the request goes out from an edge (no actor spawned
// per request), exactly one callback runs, the edge's own timer times out a request nobody
// answers (also one shorter than a request already waiting), a late answer is dropped, a
// throwing callback leaves the edge serving, a timeout too long to add never fires, edges serve
// only their own actor system, and a stopped edge set falls back to one-shot actors after
// letting its waiting requests finish.

#include "storage/bridge.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/atom.hpp>
#include <caf/response_promise.hpp>
#include <caf/sec.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <future>
#include <memory>
#include <set>
#include <stdexcept>
#include <vector>

namespace {

using namespace std::chrono_literals;

/// Hang guard only: every wait below normally ends in milliseconds.
constexpr auto hang_guard = 20s;

struct responder_state {
  std::vector<caf::response_promise> held;
  static inline const char* name = "responder";
};

/// `int` -> the id of the actor that asked; `get` -> held until `put` answers every held one.
caf::behavior responder(caf::stateful_actor<responder_state>* self, int /*unused*/) {
  return {
      [self](int) -> uint64_t { return self->current_sender()->id(); },
      [self](caf::get_atom) {
        auto rp = self->make_response_promise();
        self->state.held.push_back(rp);
        return rp;
      },
      [self](caf::put_atom) {
        for (auto& rp : self->state.held) rp.deliver(uint64_t{7});
        self->state.held.clear();
      },
  };
}

/// The outcome of one request: its value or its error, and how many callbacks ran.
struct outcome {
  std::promise<caf::expected<uint64_t>> done;
  std::atomic<int> calls{0};
};

template <class... Ts>
std::shared_ptr<outcome> ask(caf::actor_system& sys, const caf::actor& dest, caf::timespan timeout,
                             Ts... xs) {
  auto out = std::make_shared<outcome>();
  caa::async_request<uint64_t>(
      sys, dest, timeout,
      [out](uint64_t v) {
        if (out->calls++ == 0) out->done.set_value(v);
      },
      [out](caf::error e) {
        if (out->calls++ == 0) out->done.set_value(std::move(e));
      },
      xs...);
  return out;
}

caf::expected<uint64_t> wait(const std::shared_ptr<outcome>& out) {
  auto f = out->done.get_future();
  if (f.wait_for(hang_guard) != std::future_status::ready)
    return caf::make_error(caf::sec::runtime_error, "no callback ran");
  return f.get();
}

std::set<uint64_t> edge_ids(const caa::request_edges& edges) {
  std::set<uint64_t> ids;
  for (const auto& a : edges.actors()) ids.insert(a.id());
  return ids;
}

class request_edge_test : public ::testing::Test {
 protected:
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  caf::actor peer = sys.spawn(responder, 0);

  ~request_edge_test() override { caf::anon_send_exit(peer, caf::exit_reason::user_shutdown); }
};

TEST_F(request_edge_test, a_request_goes_out_from_an_edge_and_gets_its_answer) {
  caa::request_edges edges{sys, 2};
  auto ids = edge_ids(edges);
  ASSERT_EQ(ids.size(), 2u);
  for (int i = 0; i < 20; ++i) {
    auto out = ask(sys, peer, 10s, i);
    auto asker = wait(out);
    ASSERT_TRUE(asker) << caf::to_string(asker.error());
    EXPECT_EQ(ids.count(*asker), 1u) << "the request did not come from an edge";
    EXPECT_EQ(out->calls.load(), 1);
  }
}

TEST_F(request_edge_test, an_unanswered_request_times_out_and_its_late_answer_is_dropped) {
  caa::request_edges edges{sys, 1};
  auto silent = ask(sys, peer, 50ms, caf::get_atom_v);
  auto r = wait(silent);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), caf::sec::request_timeout);
  // The answer comes after the timeout: it reaches the edge before the next answer from the
  // same peer, and must not run a second callback.
  caf::anon_send(peer, caf::put_atom_v);
  auto next = ask(sys, peer, 10s, 1);
  ASSERT_TRUE(wait(next));
  EXPECT_EQ(silent->calls.load(), 1);
}

TEST_F(request_edge_test, a_short_timeout_behind_a_long_one_fires_first) {
  caa::request_edges edges{sys, 1};
  auto long_wait = ask(sys, peer, 60s, caf::get_atom_v);
  auto short_wait = ask(sys, peer, 50ms, caf::get_atom_v);
  auto r = wait(short_wait);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), caf::sec::request_timeout);
  EXPECT_EQ(long_wait->calls.load(), 0) << "the long request must still wait";
  caf::anon_send(peer, caf::put_atom_v);
  auto answered = wait(long_wait);
  ASSERT_TRUE(answered);
  EXPECT_EQ(*answered, 7u);
}

TEST_F(request_edge_test, a_timeout_too_long_to_add_never_fires) {
  caa::request_edges edges{sys, 1};
  auto forever = ask(sys, peer, caf::timespan::max(), caf::get_atom_v);
  // Had its deadline overflowed into the past, the timer would have failed it before this one.
  auto short_wait = ask(sys, peer, 50ms, caf::get_atom_v);
  ASSERT_FALSE(wait(short_wait));
  EXPECT_EQ(forever->calls.load(), 0);
  caf::anon_send(peer, caf::put_atom_v);
  auto answered = wait(forever);
  ASSERT_TRUE(answered);
  EXPECT_EQ(*answered, 7u);
}

TEST_F(request_edge_test, edges_serve_only_their_own_actor_system) {
  caf::actor_system_config other_cfg;
  caf::actor_system other{other_cfg};
  caa::request_edges edges{sys, 1};
  EXPECT_TRUE(caa::detail::edge_of(sys));
  EXPECT_FALSE(caa::detail::edge_of(other));
  // The other system's requests still work (through their one-shot actors).
  auto peer_there = other.spawn(responder, 0);
  auto out = ask(other, peer_there, 10s, 1);
  auto asker = wait(out);
  ASSERT_TRUE(asker) << caf::to_string(asker.error());
  caf::anon_send_exit(peer_there, caf::exit_reason::user_shutdown);
}

TEST_F(request_edge_test, a_throwing_callback_leaves_the_edge_serving) {
  caa::request_edges edges{sys, 1};
  std::promise<void> thrown;
  caa::async_request<uint64_t>(
      sys, peer, 10s,
      [&thrown](uint64_t) {
        thrown.set_value();
        throw std::runtime_error("callback failure");
      },
      [](caf::error) {}, 1);
  ASSERT_EQ(thrown.get_future().wait_for(hang_guard), std::future_status::ready);
  auto out = ask(sys, peer, 10s, 2);
  auto asker = wait(out);
  ASSERT_TRUE(asker) << caf::to_string(asker.error());
  EXPECT_EQ(edge_ids(edges).count(*asker), 1u);
}

TEST_F(request_edge_test, stop_lets_waiting_requests_finish_and_later_ones_spawn_their_actor) {
  auto edges = std::make_unique<caa::request_edges>(sys, 1);
  auto ids = edge_ids(*edges);
  auto waiting = ask(sys, peer, 10s, caf::get_atom_v);
  // The request is out (the peer holds it) before the edge stops.
  auto probe = ask(sys, peer, 10s, 1);
  ASSERT_TRUE(wait(probe));
  edges->stop();
  EXPECT_FALSE(caa::detail::edge_of(sys)) << "a stopped edge set still takes requests";
  caf::anon_send(peer, caf::put_atom_v);
  auto answered = wait(waiting);
  ASSERT_TRUE(answered) << "a stopping edge must wait for its requests";
  EXPECT_EQ(*answered, 7u);
  auto later = ask(sys, peer, 10s, 3);
  auto asker = wait(later);
  ASSERT_TRUE(asker) << caf::to_string(asker.error());
  EXPECT_EQ(ids.count(*asker), 0u) << "after stop, a one-shot actor asks";
}

}  // namespace
