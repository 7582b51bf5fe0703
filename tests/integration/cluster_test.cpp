// The cluster's membership against the service binary: nodes on 127.0.0.1 with their own
// NODE_ID and CLUSTER_PORT, one PostgreSQL and one Redis (needs DATABASE_URL and REDIS_URL).

#include "actors/interfaces.hpp"
#include "actors/system_config.hpp"
#include "tests/support/pg_fixture.hpp"
#include "tests/support/service_fixture.hpp"

#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <caf/actor_system.hpp>
#include <caf/io/middleman.hpp>
#include <caf/scoped_actor.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <map>
#include <memory>

using namespace caa::test;
using namespace std::chrono_literals;

namespace {

const std::string cluster_secret = "cluster-test-secret-0123456789";

/// The errno of a TCP connect to 127.0.0.1:`port` (0: it connected).
int connect_errno(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  int err = rc == 0 ? 0 : errno;
  ::close(fd);
  return err;
}

/// One node of `GET /api/v1/cluster`.
struct shown {
  std::string state;
  std::string link;
  std::string address;
};

class cluster_test : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!env_database_url() || !env_redis_url())
      GTEST_SKIP() << "DATABASE_URL and REDIS_URL are required";
    admin_key_ = random_key();
    prefix_ = "ct" + std::to_string(::getpid()) + "-";
  }

  std::map<std::string, std::string> admin() const { return {{"X-API-Key", admin_key_}}; }

  /// Starts node `name` on `cluster_port`; with the shared secret unless `secret` is false.
  std::unique_ptr<service_process> start(const std::string& name, uint16_t cluster_port,
                                         bool secret = true) {
    auto env = base_service_env(admin_key_);
    env["NODE_ID"] = prefix_ + name;
    env["CLUSTER_PORT"] = std::to_string(cluster_port);
    if (secret) env["CLUSTER_SECRET"] = cluster_secret;
    env["CLUSTER_HEARTBEAT"] = "0.5";
    env["CLUSTER_NODE_TTL"] = "3";
    // The nodes share the admin key's bucket in Redis, and the test polls.
    env["RATE_LIMIT_GENERAL_PER_MINUTE"] = "100000";
    return std::make_unique<service_process>(env);
  }

  /// The nodes `GET /api/v1/cluster` of the node on `port` shows, by id (empty on failure).
  std::map<std::string, shown> nodes(uint16_t port, std::string* membership = nullptr) {
    std::map<std::string, shown> out;
    auto r = http_call(port, "GET", "/api/v1/cluster", admin());
    if (r.status != 200) return out;
    rapidjson::Document d;
    d.Parse(r.body.c_str());
    if (!d.IsObject() || !d.HasMember("nodes") || !d["nodes"].IsArray()) return out;
    if (membership) *membership = d["membership"].GetString();
    for (const auto& n : d["nodes"].GetArray())
      out[n["id"].GetString()] = {n["state"].GetString(), n["link"].GetString(),
                                  n["address"].IsString() ? n["address"].GetString() : ""};
    return out;
  }

  /// Whether the node on `port` shows `id` in `state` (and, when given, with link `link`).
  bool shows(uint16_t port, const std::string& id, const std::string& state,
             const std::string& link = {}) {
    auto xs = nodes(port);
    auto i = xs.find(prefix_ + id);
    return i != xs.end() && i->second.state == state && (link.empty() || i->second.link == link);
  }

  std::string admin_key_;
  std::string prefix_;
};

}  // namespace

TEST_F(cluster_test, three_nodes_see_each_other_and_a_killed_one_is_gone_after_the_ttl) {
  std::map<std::string, uint16_t> cports{
      {"a", free_port()}, {"b", free_port()}, {"c", free_port()}};
  std::map<std::string, std::unique_ptr<service_process>> svc;
  for (const auto& [name, cport] : cports) svc[name] = start(name, cport);
  // Every node lists every node: itself as self, the others alive, linked on first need.
  for (const auto& [name, s] : svc)
    for (const auto& [other, cport] : cports) {
      auto state = other == name ? "self" : "alive";
      auto link = other == name ? "self" : "up";
      EXPECT_TRUE(eventually([&] { return shows(s->port(), other, state, link); }, 30s))
          << name << " about " << other << ":\n"
          << http_call(s->port(), "GET", "/api/v1/cluster", admin()).body;
      EXPECT_EQ(nodes(s->port())[prefix_ + other].address, "127.0.0.1:" + std::to_string(cport));
    }
  std::string membership;
  nodes(svc["a"]->port(), &membership);
  EXPECT_EQ(membership, "redis");
  // Admin keys only.
  auto agent = create_key(svc["a"]->port(), admin(), "acme", R"(["agent"])");
  EXPECT_EQ(http_call(svc["a"]->port(), "GET", "/api/v1/cluster", {{"X-API-Key", agent}}).status,
            403u);
  EXPECT_EQ(http_call(svc["a"]->port(), "GET", "/api/v1/cluster").status, 401u);
  // c is killed: after CLUSTER_NODE_TTL (3 s; generous bound) a and b show it gone, each other
  // still alive.
  svc["c"]->kill_hard();
  for (const auto* name : {"a", "b"}) {
    auto port = svc[name]->port();
    EXPECT_TRUE(eventually([&] { return shows(port, "c", "gone"); }, 30s))
        << http_call(port, "GET", "/api/v1/cluster", admin()).body;
    EXPECT_TRUE(shows(port, name == std::string{"a"} ? "b" : "a", "alive"));
  }
}

TEST_F(cluster_test, a_peer_with_a_wrong_secret_gets_no_link) {
  auto cport = free_port();
  auto node = start("gate", cport);
  ASSERT_TRUE(eventually([&] { return shows(node->port(), "gate", "self"); }, 30s));
  caa::settings cfg;
  caa::system_config sys_cfg{cfg};
  caf::actor_system sys{sys_cfg};
  auto gate = sys.middleman().remote_actor<caa::node_gate_actor>("127.0.0.1", cport);
  ASSERT_TRUE(gate) << sys.render(gate.error());
  caf::scoped_actor self{sys};
  bool refused = false;
  self->request(*gate, 10s, caa::atom::hello_v, std::string{"not-the-secret-0123456789"},
                std::string{"intruder"})
      .receive([&](const caf::actor&) { refused = false; }, [&](caf::error&) { refused = true; });
  EXPECT_TRUE(refused) << "a wrong secret got a link";
  caf::actor link;
  self->request(*gate, 10s, caa::atom::hello_v, cluster_secret, std::string{"friend"})
      .receive([&](caf::actor x) { link = std::move(x); },
               [&](caf::error& e) { ADD_FAILURE() << sys.render(e); });
  ASSERT_TRUE(link);
  std::string id;
  self->request(caf::actor_cast<caa::node_link_actor>(link), 10s, caa::atom::ping_v)
      .receive([&](std::string x) { id = std::move(x); },
               [&](caf::error& e) { ADD_FAILURE() << sys.render(e); });
  EXPECT_EQ(id, prefix_ + "gate");
  EXPECT_NE(node->log().find("cluster peer refused: wrong secret"), std::string::npos);
}

TEST_F(cluster_test, without_a_secret_the_port_stays_closed_and_the_node_is_single) {
  auto cport = free_port();
  auto node = start("lone", cport, false);
  std::string membership;
  std::map<std::string, shown> xs;
  ASSERT_TRUE(eventually([&] {
    xs = nodes(node->port(), &membership);
    return !xs.empty();
  }));
  ASSERT_EQ(xs.size(), 1u);
  EXPECT_EQ(xs.begin()->first, prefix_ + "lone");
  EXPECT_EQ(xs.begin()->second.state, "self");
  EXPECT_EQ(membership, "single");
  EXPECT_EQ(connect_errno(cport), ECONNREFUSED);
  EXPECT_NE(node->log().find("CLUSTER_SECRET is not"), std::string::npos);
}
