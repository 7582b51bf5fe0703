// Two nodes in one process (two actor systems talking BASP over 127.0.0.1): node A publishes its
// gatekeeper, node B says hello, finds a session of A over the link and interrupts it through a
// local forwarder.

#include "actors/cluster.hpp"
#include "actors/remote_sink.hpp"
#include "actors/session_forwarder.hpp"
#include "actors/system_config.hpp"
#include "config/errc.hpp"
#include "storage/redis/node_directory.hpp"
#include "tests/unit/actor_test_support.hpp"

#include <gtest/gtest.h>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace caa {
namespace {

using namespace std::chrono_literals;

const std::string tenant = "11111111-2222-3333-4444-555555555555";
const std::string known_id = "aaaaaaaa-0000-0000-0000-000000000001";
const std::string unknown_id = "aaaaaaaa-0000-0000-0000-000000000002";
const std::string the_secret = "right-secret";

/// Generous: the requests cross a loopback connection between two schedulers.
constexpr auto wait = 10s;

/// Events the fake session streams to a remote subscriber (more than a relay window's worth).
constexpr uint64_t streamed = 1200;

struct fake_session_state {
  static inline const char* name = "fake_session";
};

/// The turns node A's session received from B (from any thread).
struct received_turns {
  std::mutex mutex;
  std::vector<portable_turn> turns;
};

/// A session on node A that counts its interrupts and keeps the turns it is sent.
caf::behavior fake_session(caf::stateful_actor<fake_session_state>* self,
                           const std::shared_ptr<std::atomic<int>>& interrupts,
                           const std::shared_ptr<received_turns>& received) {
  return test_support::fake_session_behavior(
      [](atom::run, turn_spec_ptr&) -> caf::result<turn_accepted> {
        return make_error(errc::internal, "fake: a local spec never crosses the link");
      },
      [received](atom::run, portable_turn& t) -> caf::result<turn_accepted> {
        std::lock_guard<std::mutex> lock{received->mutex};
        received->turns.push_back(t);
        return turn_accepted{known_id, 41, 7};
      },
      [](atom::subscribe, event_sink_ptr&, uint64_t) -> caf::result<uint64_t> {
        return uint64_t{0};
      },
      // A subscriber on another node: it gets events 1..`streamed` at once, then the end.
      [self](atom::subscribe, const caf::actor& relay, uint64_t after) -> caf::result<uint64_t> {
        auto sink = make_remote_sink(self->system(), caf::actor_cast<sink_relay_actor>(relay));
        for (uint64_t seq = after + 1; seq <= streamed; ++seq)
          EXPECT_TRUE(sink->deliver(seq, "message", R"({"n":)" + std::to_string(seq) + "}"));
        sink->close();
        return uint64_t{streamed};
      },
      [=](atom::interrupt) -> caf::result<bool> {
        ++*interrupts;
        return true;
      },
      [](atom::remove) -> caf::result<bool> { return true; }, [](atom::hibernate) {},
      [](atom::drain) {}, [](atom::busy) -> caf::result<bool> { return false; });
}

struct fake_registry_state {
  static inline const char* name = "fake_registry";
};

/// Node A's registry: it knows one session of one tenant.
caf::behavior fake_registry(caf::stateful_actor<fake_registry_state>*, const session_actor& known) {
  return {
      [](atom::create, new_session&) -> caf::result<std::string, session_actor> {
        return make_error(errc::unavailable, "fake");
      },
      [](atom::create, new_session&, turn_spec_ptr&) -> caf::result<std::string, session_actor> {
        return make_error(errc::unavailable, "fake");
      },
      // A session a full node B places here: the known one stands for the new one.
      [known](atom::create, new_session& ns,
              portable_turn& t) -> caf::result<std::string, session_actor> {
        if (ns.tenant_id != tenant || t.tenant_id != tenant)
          return make_error(errc::validation, "fake: another tenant");
        if (t.prompt != "first") return make_error(errc::capacity_exhausted, "fake: full too");
        return {known_id, known};
      },
      [known](atom::find, const std::string& tenant_id,
              const std::string& id) -> caf::result<session_actor> {
        if (tenant_id == tenant && id == known_id) return known;
        return make_error(errc::session_not_found, "fake");
      },
      [](atom::drain) { return true; },
      [](atom::drain_poll) {},
      [](atom::drain_stop) {},
      [](atom::drain_rest) {},
      [](atom::drain_done) {},
      [](atom::remove, std::string&) {},
  };
}

struct fake_redis_state {
  static inline const char* name = "fake_redis";
};

/// A Redis in which node A (announced as `record`) is the only other node, and alive.
storage::redis_actor::behavior_type fake_redis(
    storage::redis_actor::stateful_pointer<fake_redis_state>, const storage::node_record& record) {
  return {
      [record](storage::redis_command& c) {
        storage::redis_reply r;
        auto text = storage::encode_node_record(record);
        if (!c.args.empty() && c.args[0] == "HGETALL") {
          r.kind = storage::redis_reply_kind::array;
          r.elements = {record.node_id, text};
        } else if (!c.args.empty() && c.args[0] == "MGET") {
          r.kind = storage::redis_reply_kind::array;
          r.elements.assign(c.args.size() - 1, text);
        } else {
          r.kind = storage::redis_reply_kind::status;
          r.str = "OK";
        }
        return r;
      },
  };
}

class cluster_link_test : public ::testing::Test {
 protected:
  cluster_link_test() : sys_a(cfg_a), sys_b(cfg_b) {
    session = caf::actor_cast<session_actor>(sys_a.spawn(fake_session, interrupts, received));
    registry = caf::actor_cast<registry_actor>(sys_a.spawn(fake_registry, session));
    gate = spawn_node_gate(sys_a, "node-a", secret{the_secret}, registry);
    auto port = publish_node_gate(sys_a, gate, "127.0.0.1", 0);
    EXPECT_TRUE(port) << sys_a.render(port.error());
    if (port) port_ = *port;
  }

  ~cluster_link_test() override {
    // Node B first (its forwarder and the link it holds, which lives on A), then node A; each
    // system then waits for its actors, which all end here.
    if (fwd) caf::anon_send_exit(fwd, caf::exit_reason::kill);
    for (auto& a : b_actors) caf::anon_send_exit(a, caf::exit_reason::kill);
    if (link) caf::anon_send_exit(link, caf::exit_reason::kill);
    for (auto& a : {caf::actor_cast<caf::actor>(gate), caf::actor_cast<caf::actor>(registry),
                    caf::actor_cast<caf::actor>(session)})
      caf::anon_send_exit(a, caf::exit_reason::kill);
  }

  /// Node B's handle of A's gatekeeper.
  node_gate_actor remote_gate() {
    auto g = sys_b.middleman().remote_actor<node_gate_actor>("127.0.0.1", port_);
    EXPECT_TRUE(g) << sys_b.render(g.error());
    return g ? *g : node_gate_actor{};
  }

  /// Says hello to A with `presented`; the link, or the errc of the refusal.
  caf::expected<caf::actor> hello(caf::scoped_actor& self, const std::string& presented) {
    caf::expected<caf::actor> out{caf::actor{}};
    self->request(remote_gate(), wait, atom::hello_v, presented, std::string{"node-b"})
        .receive([&](caf::actor& l) { out = std::move(l); }, [&](caf::error& e) { out = e; });
    return out;
  }

  /// Asks A, over `l`, for session `id`.
  caf::expected<session_actor> find(caf::scoped_actor& self, const caf::actor& l,
                                    const std::string& id) {
    caf::expected<session_actor> out{session_actor{}};
    self->request(caf::actor_cast<node_link_actor>(l), wait, atom::find_v, tenant, id)
        .receive([&](caf::actor& s) { out = caf::actor_cast<session_actor>(std::move(s)); },
                 [&](caf::error& e) { out = e; });
    return out;
  }

  /// Node B's membership actor, knowing node A from a fake Redis, with `presented` as its
  /// cluster secret.
  cluster_actor make_cluster(const std::string& presented) {
    storage::node_record a;
    a.node_id = "node-a";
    a.host = "127.0.0.1";
    a.port = port_;
    auto redis = sys_b.spawn(fake_redis, a);
    b_actors.push_back(caf::actor_cast<caf::actor>(redis));
    cluster_deps d;
    d.node_id = "node-b";
    d.host = "127.0.0.1";
    d.port = 1;  // announced only: nobody connects to node B here
    d.shared_secret = secret{presented};
    d.heartbeat = 1s;
    d.node_ttl = wait;
    d.redis_timeout = wait;
    d.redis = redis;
    auto c = spawn_cluster(sys_b, std::move(d));
    b_actors.push_back(caf::actor_cast<caf::actor>(c));
    return c;
  }

  /// Asks `c` for the link to `id`.
  caf::expected<caf::actor> link_of(caf::scoped_actor& self, const cluster_actor& c,
                                    const std::string& id) {
    caf::expected<caf::actor> out{caf::actor{}};
    self->request(c, wait, atom::link_v, id)
        .receive([&](caf::actor& l) { out = std::move(l); }, [&](caf::error& e) { out = e; });
    return out;
  }

  /// Waits until `c` has read node A from Redis (its first heartbeat runs at once).
  void await_members(caf::scoped_actor& self, const cluster_actor& c) {
    for (int i = 0; i < 500; ++i) {
      bool known = false;
      self->request(c, wait, atom::members_v)
          .receive([&](cluster_view& v) { known = v.members.size() > 1; },
                   [&](caf::error& e) { ADD_FAILURE() << sys_b.render(e); });
      if (known) return;
      std::this_thread::sleep_for(10ms);
    }
    ADD_FAILURE() << "node A never became a member";
  }

  system_config cfg_a{settings{}};
  system_config cfg_b{settings{}};
  caf::actor_system sys_a;
  caf::actor_system sys_b;
  uint16_t port_ = 0;
  std::shared_ptr<std::atomic<int>> interrupts = std::make_shared<std::atomic<int>>(0);
  std::shared_ptr<received_turns> received = std::make_shared<received_turns>();
  session_actor session;
  registry_actor registry;
  node_gate_actor gate;
  caf::actor link;                   ///< B's handle of its link on A
  session_actor fwd;                 ///< B's forwarder to A's session
  std::vector<caf::actor> b_actors;  ///< more of node B's actors
};

TEST_F(cluster_link_test, a_session_found_over_the_link_is_interrupted_through_a_forwarder) {
  caf::scoped_actor self{sys_b};
  auto l = hello(self, the_secret);
  ASSERT_TRUE(l) << sys_b.render(l.error());
  ASSERT_TRUE(*l);
  link = *l;
  auto s = find(self, link, known_id);
  ASSERT_TRUE(s) << sys_b.render(s.error());
  ASSERT_TRUE(*s);
  fwd = spawn_session_forwarder(sys_b, *s, "node-a", wait, wait);
  bool interrupted = false;
  self->request(fwd, wait, atom::interrupt_v)
      .receive([&](bool ok) { interrupted = ok; },
               [&](caf::error& e) { ADD_FAILURE() << sys_b.render(e); });
  EXPECT_TRUE(interrupted);
  EXPECT_EQ(interrupts->load(), 1) << "node A's session saw the interrupt";
  // A payload with a type ID crosses too (the fake answers a control with "stored").
  std::string control;
  self->request(fwd, wait, atom::control_v, live_control{"model", "opus", "{}"})
      .receive([&](std::string& x) { control = std::move(x); },
               [&](caf::error& e) { ADD_FAILURE() << sys_b.render(e); });
  EXPECT_EQ(control, "stored");
}

TEST_F(cluster_link_test, a_turn_crosses_the_link_in_portable_form_and_its_answer_comes_back) {
  caf::scoped_actor self{sys_b};
  auto l = hello(self, the_secret);
  ASSERT_TRUE(l) << sys_b.render(l.error());
  link = *l;
  auto s = find(self, link, known_id);
  ASSERT_TRUE(s) << sys_b.render(s.error());
  fwd = spawn_session_forwarder(sys_b, *s, "node-a", wait, wait);
  // A spec as node B's routes build it: B's own paths and driver stay on B.
  auto spec = std::make_shared<turn_spec>();
  spec->prompt = "continue";
  spec->images.push_back({"image/png", "iVBORw0KGgo="});
  spec->options_json = R"({"model":"opus","cwd":"src"})";
  spec->options.cwd = "/workspace-of-b/t/src";
  spec->driver.tenant_id = tenant;
  spec->tenant_name = "acme";
  spec->agent_slot = 3;
  turn_accepted acc;
  self->request(fwd, wait, atom::run_v, turn_spec_ptr{spec})
      .receive([&](turn_accepted& x) { acc = std::move(x); },
               [&](caf::error& e) { ADD_FAILURE() << sys_b.render(e); });
  EXPECT_EQ(acc.session_id, known_id);
  EXPECT_EQ(acc.after_seq, 41u);
  EXPECT_EQ(acc.turn, 7u);
  std::lock_guard<std::mutex> lock{received->mutex};
  ASSERT_EQ(received->turns.size(), 1u);
  const auto& t = received->turns.front();
  EXPECT_EQ(t.tenant_id, tenant);
  EXPECT_EQ(t.tenant_name, "acme");
  EXPECT_EQ(t.agent_slot, 3);
  EXPECT_EQ(t.prompt, "continue");
  ASSERT_EQ(t.images.size(), 1u);
  EXPECT_EQ(t.images[0].media_type, "image/png");
  EXPECT_EQ(t.images[0].data, "iVBORw0KGgo=");
  EXPECT_EQ(t.options_json, R"({"model":"opus","cwd":"src"})") << "stored form, not B's paths";
}

TEST_F(cluster_link_test, a_session_is_created_over_the_link_and_its_actor_comes_back) {
  caf::scoped_actor self{sys_b};
  auto l = hello(self, the_secret);
  ASSERT_TRUE(l) << sys_b.render(l.error());
  link = *l;
  new_session ns;
  ns.tenant_id = tenant;
  ns.options_json = "{}";
  portable_turn turn;
  turn.tenant_id = tenant;
  turn.prompt = "first";
  std::string id;
  caf::actor remote;
  self->request(caf::actor_cast<node_link_actor>(link), wait, atom::create_v, ns, turn)
      .receive(
          [&](std::string& i, caf::actor& a) {
            id = std::move(i);
            remote = std::move(a);
          },
          [&](caf::error& e) { ADD_FAILURE() << sys_b.render(e); });
  EXPECT_EQ(id, known_id);
  ASSERT_TRUE(remote);
  // The handle reaches the session on A.
  fwd =
      spawn_session_forwarder(sys_b, caf::actor_cast<session_actor>(remote), "node-a", wait, wait);
  self->request(fwd, wait, atom::interrupt_v)
      .receive([](bool) {}, [&](caf::error& e) { ADD_FAILURE() << sys_b.render(e); });
  EXPECT_EQ(interrupts->load(), 1);
  // A's refusal comes back as it is.
  turn.prompt = "second";
  std::optional<errc> refused;
  self->request(caf::actor_cast<node_link_actor>(link), wait, atom::create_v, ns, turn)
      .receive([](std::string&, caf::actor&) {}, [&](caf::error& e) { refused = errc_of(e); });
  EXPECT_EQ(refused, errc::capacity_exhausted);
}

TEST_F(cluster_link_test, an_unknown_session_is_not_found_over_the_link) {
  caf::scoped_actor self{sys_b};
  auto l = hello(self, the_secret);
  ASSERT_TRUE(l) << sys_b.render(l.error());
  link = *l;
  auto s = find(self, link, unknown_id);
  ASSERT_FALSE(s);
  EXPECT_EQ(errc_of(s.error()), errc::session_not_found) << sys_b.render(s.error());
}

TEST_F(cluster_link_test, the_wrong_secret_gives_no_link) {
  caf::scoped_actor self{sys_b};
  auto l = hello(self, "wrong-secret");
  ASSERT_FALSE(l);
  EXPECT_EQ(errc_of(l.error()), errc::unauthenticated) << sys_b.render(l.error());
}

TEST_F(cluster_link_test, the_membership_actor_hands_out_a_link_to_a_known_peer) {
  caf::scoped_actor self{sys_b};
  auto c = make_cluster(the_secret);
  await_members(self, c);
  auto l = link_of(self, c, "node-a");
  ASSERT_TRUE(l) << sys_b.render(l.error());
  ASSERT_TRUE(*l);
  std::string peer;
  self->request(caf::actor_cast<node_link_actor>(*l), wait, atom::ping_v)
      .receive([&](std::string& x) { peer = std::move(x); },
               [&](caf::error& e) { ADD_FAILURE() << sys_b.render(e); });
  EXPECT_EQ(peer, "node-a");
  auto again = link_of(self, c, "node-a");
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, *l) << "an up link is reused";
  for (const std::string& id : {std::string{"node-b"}, std::string{"node-z"}}) {
    auto none = link_of(self, c, id);
    ASSERT_FALSE(none) << id;
    EXPECT_EQ(errc_of(none.error()), errc::unavailable) << id;
  }
}

TEST_F(cluster_link_test, a_refused_hello_fails_the_link_and_backoff_answers_at_once) {
  caf::scoped_actor self{sys_b};
  auto c = make_cluster("wrong-secret");
  await_members(self, c);
  auto l = link_of(self, c, "node-a");
  ASSERT_FALSE(l);
  EXPECT_EQ(errc_of(l.error()), errc::unavailable) << sys_b.render(l.error());
  auto again = link_of(self, c, "node-a");
  ASSERT_FALSE(again);
  EXPECT_EQ(errc_of(again.error()), errc::unavailable) << sys_b.render(again.error());
}

TEST(cluster_link_single, a_single_node_has_no_links) {
  system_config cfg{settings{}};
  caf::actor_system sys{cfg};
  cluster_deps d;
  d.node_id = "alone";
  auto c = spawn_cluster(sys, std::move(d));
  {
    caf::scoped_actor self{sys};
    bool refused = false;
    self->request(c, wait, atom::link_v, std::string{"other"})
        .receive([&](caf::actor&) {},
                 [&](caf::error& e) { refused = errc_of(e) == errc::unavailable; });
    EXPECT_TRUE(refused);
  }
  caf::anon_send_exit(c, caf::exit_reason::kill);
}

}  // namespace
namespace {

/// Polls `pred` for up to `wait` (the stream crosses a loopback connection).
template <class Pred>
bool eventually_true(Pred pred) {
  auto deadline = std::chrono::steady_clock::now() + wait;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return pred();
}

/// A local subscriber on node B that records what arrives (from any thread) and how it ended;
/// it has room for `room` events, then none until the test makes room.
class recording_sink final : public event_sink {
 public:
  bool deliver(uint64_t seq, std::string_view name, std::string_view) override {
    std::lock_guard<std::mutex> g{mtx};
    seqs.push_back(seq);
    names.emplace_back(name);
    return true;
  }
  bool open() const override {
    std::lock_guard<std::mutex> g{mtx};
    return !closed;
  }
  void close() override {
    std::lock_guard<std::mutex> g{mtx};
    closed = true;
  }
  mutable std::mutex mtx;
  std::vector<uint64_t> seqs;
  std::vector<std::string> names;
  bool closed = false;
};

}  // namespace

TEST_F(cluster_link_test, a_subscription_through_a_forwarder_gets_the_owners_events_in_order) {
  caf::scoped_actor self{sys_b};
  auto l = hello(self, the_secret);
  ASSERT_TRUE(l && *l);
  link = *l;
  auto s = find(self, link, known_id);
  ASSERT_TRUE(s && *s);
  fwd = spawn_session_forwarder(sys_b, *s, "node-a", wait, wait);
  auto sink = std::make_shared<recording_sink>();
  uint64_t last = 0;
  self->request(fwd, wait, atom::subscribe_v, event_sink_ptr{sink}, uint64_t{0})
      .receive([&](uint64_t x) { last = x; },
               [&](caf::error& e) { ADD_FAILURE() << sys_b.render(e); });
  EXPECT_EQ(last, streamed);
  ASSERT_TRUE(eventually_true([&] { return !sink->open(); }))
      << "the owner's end of the subscription ends the local stream";
  std::lock_guard<std::mutex> g{sink->mtx};
  ASSERT_EQ(sink->seqs.size(), streamed) << "every event crossed";
  for (uint64_t i = 0; i < streamed; ++i) ASSERT_EQ(sink->seqs[i], i + 1) << "in order";
}

// A session that goes away without closing its remote subscriber (its actor failed): the
// relay still ends the client's stream, after the events sent before, so that the client
// resumes with Last-Event-ID instead of waiting on a stream nobody feeds.
TEST(cluster_link_single, a_remote_sink_dropped_without_close_ends_the_clients_stream) {
  system_config cfg{settings{}};
  caf::actor_system sys{cfg};
  auto local = std::make_shared<recording_sink>();
  auto relay = spawn_sink_relay(sys, local);
  {
    auto sink = make_remote_sink(sys, relay);
    for (uint64_t seq = 1; seq <= 3; ++seq) EXPECT_TRUE(sink->deliver(seq, "message", "{}"));
  }  // dropped, never closed
  ASSERT_TRUE(eventually_true([&] { return !local->open(); })) << "the stream was left open";
  std::lock_guard<std::mutex> g{local->mtx};
  EXPECT_EQ(local->seqs, (std::vector<uint64_t>{1, 2, 3}));
}

}  // namespace caa
