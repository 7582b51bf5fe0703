#pragma once

// A fixture for tests of a cluster (cluster_sessions_test.cpp, cluster_faults_test.cpp): nodes on
// 127.0.0.1 that share one PostgreSQL and a redis-server of the test's own (with a secret of its
// own), each with a cluster port and a WORKSPACE_ROOT of its own, the real CLI and the scripted
// model; helpers to read the membership a node reports, to retry a turn while a lease runs out, and
// to check a stored history.

#include "tests/integration/session_lifecycle_fixture.hpp"

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace caa::test {

/// A redis-server of the test alone, on a loopback port; started and stopped by the test.
class private_redis {
 public:
  private_redis() : port_(free_port()) {
    char tmpl[] = "/tmp/caa-cluster-redis-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir_ = tmpl;
  }
  ~private_redis() {
    stop();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  private_redis(const private_redis&) = delete;
  private_redis& operator=(const private_redis&) = delete;

  /// Starts redis-server on `port()` (on the calling thread: it gets PR_SET_PDEATHSIG of that
  /// thread) and waits until it answers PING; false when it does not.
  bool start() {
    auto port = std::to_string(port_);
    auto log_path = dir_ + "/redis.log";
    std::vector<std::string> args{"redis-server", "--port",      port,    "--bind",
                                  "127.0.0.1",    "--save",      "",      "--appendonly",
                                  "no",           "--daemonize", "no",    "--dir",
                                  dir_,           "--logfile",   log_path};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t parent = ::getpid();
    pid_t pid = ::fork();
    if (pid < 0) return false;
    if (pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(1);
      int devnull = ::open("/dev/null", O_RDWR);
      ::dup2(devnull, 0);
      ::dup2(devnull, 1);
      ::dup2(devnull, 2);
      sigset_t none;
      sigemptyset(&none);
      ::sigprocmask(SIG_SETMASK, &none, nullptr);
      ::execvp("redis-server", argv.data());
      ::_exit(127);
    }
    pid_ = pid;
    return eventually(
               [&] {
                 int status = 0;
                 if (::waitpid(pid_, &status, WNOHANG) == pid_) {
                   pid_ = -1;
                   return true;  // it ended: answered below
                 }
                 return raw_exchange(port_, "PING\r\n", 200ms).rfind("+PONG", 0) == 0;
               },
               15s) &&
           pid_ > 0;
  }

  /// SIGTERM, and waits for the exit (SIGKILL after 15 s).
  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    int status = 0;
    if (!eventually([&] { return ::waitpid(pid_, &status, WNOHANG) == pid_; }, 15s)) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
    }
    pid_ = -1;
  }

  uint16_t port() const noexcept { return port_; }
  std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_); }
  std::string log() const {
    std::ifstream in{dir_ + "/redis.log"};
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

 private:
  uint16_t port_;
  pid_t pid_ = -1;
  std::string dir_;
};

/// Whether an executable `name` is on PATH.
inline bool on_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::istringstream dirs{path ? path : ""};
  for (std::string dir; std::getline(dirs, dir, ':');)
    if (!dir.empty() && ::access((dir + "/" + name).c_str(), X_OK) == 0) return true;
  return false;
}

class cluster_fixture : public session_lifecycle_test {
 protected:
  /// `tag` starts the NODE_ID of every node of the test (with the pid and a random number).
  explicit cluster_fixture(std::string tag) : tag_(std::move(tag)) {}

  void SetUp() override {
    session_lifecycle_test::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    prefix_ = tag_ + std::to_string(::getpid()) + "-" + random_digits() + "-";
    // A cluster of its own: a Redis (membership) and a secret (links) no other test shares, so
    // clusters of tests that run at the same time never see or link to each other.
    secret_ = "cluster-secret-" + prefix_ + random_digits();
    ASSERT_TRUE(on_path("redis-server")) << "redis-server is required";
    redis_ = std::make_unique<private_redis>();
    ASSERT_TRUE(redis_->start()) << redis_->log();
  }

  void TearDown() override {
    if (HasFailure() || std::getenv("CAA_TEST_DUMP_LOG") != nullptr)
      for (auto& [name, node] : nodes_)
        if (node)
          std::fprintf(stderr, "---- log of node %s (tail) ----\n%s\n", name.c_str(),
                       tail(node->log()).c_str());
    for (auto& [name, node] : nodes_)
      if (node && stopped_.count(name) > 0) ::kill(node->pid(), SIGCONT);
    nodes_.clear();
    if (HasFailure() && redis_)
      std::fprintf(stderr, "---- log of the cluster's redis-server ----\n%s\n",
                   tail(redis_->log()).c_str());
    redis_.reset();  // after the nodes
    for (auto& dir : workspaces_) {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
    session_lifecycle_test::TearDown();
  }

  static std::string tail(const std::string& log) {
    return log.size() > 8000 ? "...\n" + log.substr(log.size() - 8000) : log;
  }

  /// Starts nodes `names` (each on a cluster port of its own, with its own WORKSPACE_ROOT, and
  /// SESSION_LEASE_TTL `lease_ttl`; `settings` added to the environment of each), waits until
  /// every one sees the others alive, and makes an agent key.
  void start_nodes(std::initializer_list<std::string> names, const std::string& lease_ttl = "3",
                   const std::map<std::string, std::string>& settings = {}) {
    for (const auto& name : names) {
      auto env = env_;
      char tmpl[] = "/tmp/caa-cluster-ws-XXXXXX";
      ASSERT_NE(mkdtemp(tmpl), nullptr);
      workspaces_.emplace_back(tmpl);
      env["WORKSPACE_ROOT"] = tmpl;
      env["NODE_ID"] = node_id(name);
      env["CLUSTER_PORT"] = std::to_string(free_port());
      env["CLUSTER_SECRET"] = secret_;
      env["REDIS_URL"] = redis_->url();
      env["CLUSTER_HEARTBEAT"] = "0.5";
      env["CLUSTER_NODE_TTL"] = "3";
      env["SESSION_LEASE_TTL"] = lease_ttl;
      // The test retries while a lease runs out, and polls.
      env["RATE_LIMIT_GENERAL_PER_MINUTE"] = "100000";
      env["RATE_LIMIT_QUERY_PER_MINUTE"] = "100000";
      for (const auto& [k, v] : settings) env[k] = v;
      for (const auto& [k, v] : node_env_[name]) env[k] = v;
      nodes_[name] = std::make_unique<service_process>(env);
    }
    for (const auto& name : names) {
      for (const auto& other : names) {
        if (name == other) continue;
        ASSERT_TRUE(eventually([&] { return sees_alive(node(name).port(), other); }, 15s))
            << name << " does not see " << other;
      }
    }
    key_ =
        create_key(node(*names.begin()).port(), {{"X-API-Key", admin_}}, "cluster", R"(["agent"])");
    ASSERT_FALSE(key_.empty());
  }

  service_process& node(const std::string& name) { return *nodes_.at(name); }

  /// Whether a file named `name` exists in the WORKSPACE_ROOT of the `i`-th node started.
  bool in_workspace(std::size_t i, const std::string& name) {
    std::error_code ec;
    for (std::filesystem::recursive_directory_iterator it{workspaces_.at(i), ec}, end;
         !ec && it != end; it.increment(ec))
      if (it->path().filename() == name) return true;
    return false;
  }

  /// The NODE_ID of node `name`.
  std::string node_id(const std::string& name) const { return prefix_ + name; }

  /// `GET /api/v1/cluster` of the node on `port` (a null document when not 200).
  rapidjson::Document membership(uint16_t port) {
    auto r = http_call(port, "GET", "/api/v1/cluster", {{"X-API-Key", admin_}});
    if (r.status != 200) return rapidjson::Document{};
    return parse_json(r.body);
  }

  /// The member `name` as the node on `port` lists it: its `state` and `link` ("" when not
  /// listed), and the `membership` source of that node ("" when it did not answer).
  struct member_view {
    std::string source;
    std::string state;
    std::string link;
  };
  member_view member(uint16_t port, const std::string& name) {
    member_view out;
    auto d = membership(port);
    if (!d.IsObject() || !d.HasMember("nodes") || !d.HasMember("membership")) return out;
    out.source = d["membership"].GetString();
    for (auto& n : d["nodes"].GetArray())
      if (n["id"].GetString() == node_id(name)) {
        out.state = n["state"].GetString();
        out.link = n["link"].GetString();
      }
    return out;
  }

  bool sees_alive(uint16_t port, const std::string& name) {
    return member(port, name).state == "alive";
  }

  /// A turn of session `id` through the node on `port`, retried while it answers 503 (the
  /// former owner's lease still runs); its stream.
  sse_result turn_until_served(uint16_t port, const std::string& body,
                               std::chrono::seconds limit = 30s) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    sse_result r;
    do {
      r = sse_call(port, "POST", "/api/v1/query", auth(), body, {}, 120s);
      if (r.status != 503) return r;
      std::this_thread::sleep_for(250ms);
    } while (std::chrono::steady_clock::now() < deadline);
    return r;
  }

  /// The stored events of session `id`, read through the node on `port`.
  rapidjson::Document history(uint16_t port, const std::string& id) {
    auto r = http_call(port, "GET", "/api/v1/sessions/" + id + "/events?limit=1000", auth());
    auto d = parse_json(r.body);
    EXPECT_EQ(r.status, 200u) << r.body;
    return d;
  }

  /// Checks that the ids of `events` are 1..n and counts the `done{interrupted}` events.
  static int interrupted_dones(const rapidjson::Value& events) {
    int n = 0;
    for (rapidjson::SizeType i = 0; i < events.Size(); ++i) {
      EXPECT_EQ(events[i]["id"].GetUint64(), i + 1u) << "ids are 1..n without gap or repeat";
      if (std::string{events[i]["event"].GetString()} == "done" &&
          std::string{events[i]["data"]["reason"].GetString()} == "interrupted")
        ++n;
    }
    return n;
  }

  std::string tag_;
  std::string prefix_;
  std::map<std::string, std::unique_ptr<service_process>> nodes_;
  std::string secret_;                    ///< CLUSTER_SECRET of this test's nodes
  std::unique_ptr<private_redis> redis_;  ///< this test's Redis, started before the nodes
  /// Settings of one node on top of the shared ones (set before `start_nodes`).
  std::map<std::string, std::map<std::string, std::string>> node_env_;
  std::set<std::string> stopped_;
  std::vector<std::string> workspaces_;
};

}  // namespace caa::test
