// The capabilities probe starts its CLI on a launch thread, like a session and the warm pool:
// driven by CAF's test coordinator, with a fake launcher whose starts wait for the test.

#include "actors/capabilities.hpp"
#include "tests/unit/registry_clock_fixture.hpp"
#include "tests/unit/session_machine_fakes.hpp"
#include "transport/sandbox/workspace.hpp"

#include <filesystem>

using namespace registry_clock;

namespace {

class capabilities_launch_test : public registry_drain_test {
 protected:
  capabilities_launch_test() {
    char tmpl[] = "/tmp/capabilities-launch-XXXXXX";
    dir = ::mkdtemp(tmpl);
    workspace = std::make_unique<tenant_workspace>(dir);
    cfg.sandbox.strict = false;
    clis->hold_starts = true;
  }

  ~capabilities_launch_test() override {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }

  /// A probe actor whose probes fail after one second.
  capabilities_actor make_probe() {
    capabilities_deps deps;
    deps.cfg = &cfg;
    deps.workspace = workspace.get();
    deps.launcher = launcher;
    deps.deadline = std::chrono::seconds{1};
    auto caps = spawn_capabilities(sys, deps);
    spawned.push_back(caf::actor_cast<caf::actor>(caps));
    return caps;
  }

  /// Asks `caps` for a tenant's offer; the answer (or its error) lands in the result.
  std::shared_ptr<std::optional<caf::expected<std::string>>> ask(const capabilities_actor& caps) {
    auto out = std::make_shared<std::optional<caf::expected<std::string>>>();
    client([caps, out, t = tenant](caf::event_based_actor* c) {
      c->request(caps, caf::infinite, atom::find_v, t, int64_t{0})
          .then([out](std::string& s) { *out = s; }, [out](caf::error& e) { *out = e; });
    });
    sched.run();
    return out;
  }

  const std::string tenant = "00000000-0000-4000-8000-0000000000cc";
  std::string dir;
  settings cfg;
  std::unique_ptr<tenant_workspace> workspace;
  std::shared_ptr<session_machine::cli_log> clis = std::make_shared<session_machine::cli_log>();
  std::shared_ptr<cli_launcher> launcher = std::make_shared<session_machine::fake_launcher>(clis);
};

TEST_F(capabilities_launch_test, a_probe_is_served_only_once_its_start_arrived) {
  auto caps = make_probe();
  auto answer = ask(caps);
  ASSERT_EQ(clis->held.size(), 1u) << "the start went to a launch thread";
  EXPECT_EQ(clis->clis.size(), 0u);
  EXPECT_FALSE(answer->has_value());
  clis->held[0]();  // the start ends: `launched`
  sched.run();
  ASSERT_EQ(clis->clis.size(), 1u);
  ASSERT_FALSE(clis->clis[0]->lines.empty());
  EXPECT_NE(clis->clis[0]->lines[0].find(R"("subtype":"initialize")"), std::string::npos)
      << clis->clis[0]->lines[0];
  EXPECT_FALSE(answer->has_value()) << "no offer without the engine's answer";
}

TEST_F(capabilities_launch_test, a_start_that_arrives_after_the_probe_failed_is_never_served) {
  auto caps = make_probe();
  auto answer = ask(caps);
  ASSERT_EQ(clis->held.size(), 1u);
  advance(std::chrono::seconds{1});  // the probe's deadline
  ASSERT_TRUE(answer->has_value());
  ASSERT_FALSE(**answer);
  EXPECT_EQ(errc_of((*answer)->error()), errc::unavailable);
  clis->held[0]();  // the start ends after its probe
  sched.run();
  EXPECT_EQ(clis->clis.size(), 0u) << "a start for an ended probe was served";
}

}  // namespace
