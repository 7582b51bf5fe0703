// Integration tests of caa-sandbox-relay, the binary: it runs its program and exits with its
// status, forwards termination signals, keeps its sockets from the child, and relays TCP
// connections on 127.0.0.1 to a unix socket byte for byte. Loopback and temp-dir sockets only.

#include "egress_test_support.hpp"

#include <gtest/gtest.h>

#include <signal.h>
#include <sys/socket.h>

#include <filesystem>
#include <string>
#include <thread>

namespace caa::sandbox::testing {
namespace {

/// The relay with `sh -c script` as its program.
int run_script(const temp_dir& dir, const std::string& script, uint16_t port = 0) {
  relay_process relay{port ? port : free_port(), dir.path("e.sock"), {"/bin/sh", "-c", script}};
  auto status = relay.wait();
  EXPECT_TRUE(status.has_value()) << script;
  return status.value_or(-1);
}

TEST(EgressRelay, ExitsWithTheStatusOfItsProgram) {
  temp_dir dir;
  EXPECT_EQ(run_script(dir, "exit 0"), 0);
  EXPECT_EQ(run_script(dir, "exit 7"), 7);
  EXPECT_EQ(run_script(dir, "kill -TERM $$"), 128 + SIGTERM);
  EXPECT_EQ(run_script(dir, "kill -KILL $$"), 128 + SIGKILL);
  relay_process missing{free_port(), dir.path("e.sock"), {dir.path("no-such-program")}};
  EXPECT_EQ(missing.wait(), 127);
}

TEST(EgressRelay, RunsItsProgramWhenItCannotListen) {
  temp_dir dir;
  auto [holder, port] = hold_port();
  ASSERT_NE(port, 0);
  EXPECT_EQ(run_script(dir, "exit 3", port), 3);
}

TEST(EgressRelay, PassesItsStdoutAndNoSocketToTheChild) {
  temp_dir dir;
  relay_process relay{
      free_port(),
      dir.path("e.sock"),
      {"/bin/sh", "-c", "echo hello; for f in /proc/$$/fd/*; do readlink $f; done; true"}};
  ASSERT_EQ(relay.wait(), 0);
  auto out = relay.output();
  EXPECT_EQ(out.rfind("hello\n", 0), 0u) << out;
  EXPECT_EQ(out.find("socket:"), std::string::npos) << out;
}

TEST(EgressRelay, ForwardsTermToItsProgram) {
  temp_dir dir;
  auto port = free_port();
  relay_process relay{port, dir.path("e.sock"), {"/bin/sh", "-c", "exec sleep 30"}};
  ASSERT_TRUE(connect_tcp(port, 5000ms));  // listening, so past the fork
  ASSERT_EQ(::kill(relay.pid(), SIGTERM), 0);
  EXPECT_EQ(relay.wait(5000ms), 128 + SIGTERM);
}

TEST(EgressRelay, RelaysTcpToTheUnixSocketBothWays) {
  temp_dir dir;
  echo_server echo{dir.path("e.sock")};
  auto port = free_port();
  relay_process relay{port, dir.path("e.sock"), {"/bin/sh", "-c", "exec sleep 30"}};
  auto client = connect_tcp(port, 5000ms);
  ASSERT_TRUE(client);
  ASSERT_TRUE(send_all(client.get(), "hello"));
  EXPECT_EQ(read_n(client.get(), 5), "hello");

  // More than every buffer on the way holds, written while it comes back.
  std::string big(3u << 20, '\0');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 7 + i / 4096);
  std::thread writer{[&] { EXPECT_TRUE(send_all(client.get(), big)); }};
  auto back = read_n(client.get(), big.size());
  writer.join();
  EXPECT_TRUE(back == big) << "got " << back.size() << " bytes";

  // A half-close travels through: the echo server ends, and so does the connection.
  ASSERT_TRUE(send_all(client.get(), "last"));
  ::shutdown(client.get(), SHUT_WR);
  EXPECT_EQ(read_to_end(client.get()), "last");

  auto second = connect_tcp(port);
  ASSERT_TRUE(second);
  ASSERT_TRUE(send_all(second.get(), "again"));
  EXPECT_EQ(read_n(second.get(), 5), "again");
  EXPECT_EQ(echo.accepted(), 2u);
  ASSERT_EQ(::kill(relay.pid(), SIGTERM), 0);
  EXPECT_EQ(relay.wait(5000ms), 128 + SIGTERM);
}

TEST(EgressRelay, ClosesTheClientWhenNothingListensOnTheSocket) {
  temp_dir dir;
  auto port = free_port();
  relay_process relay{port, dir.path("absent.sock"), {"/bin/sh", "-c", "exec sleep 30"}};
  auto client = connect_tcp(port, 5000ms);
  ASSERT_TRUE(client);
  send_all(client.get(), "CONNECT example.com:443 HTTP/1.1\r\n\r\n");
  EXPECT_EQ(read_to_end(client.get()), "");
}

}  // namespace
}  // namespace caa::sandbox::testing
