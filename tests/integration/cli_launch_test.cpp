// The service's CLI launcher with real processes: a start runs on a launch thread of
// `agent_io`, nothing of the process is read before its session serves it, and a started
// process nobody serves is killed and reaped.

#include "actors/agent_io.hpp"
#include "actors/cli_launcher.hpp"
#include "tests/integration/cli_process_support.hpp"

#include <gtest/gtest.h>

#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <future>
#include <thread>

namespace {

using namespace std::chrono_literals;
using caa::claude::test::eventually;
using caa::claude::test::pids_with_arg;
using caa::claude::test::recorder;
using caa::claude::test::zombie_children;

class cli_launch_test : public ::testing::Test {
 protected:
  cli_launch_test() {
    char tmpl[] = "/tmp/cli-launch-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    script_ = dir_ + "/cli";
    // Ignores its arguments, says it is ready, then echoes each stdin line.
    std::ofstream{script_} << "#!/bin/sh\necho '{\"type\":\"ready\"}'\n"
                              "while read -r line; do echo \"$line\"; done\n";
    ::chmod(script_.c_str(), 0755);
    opts_.cwd = dir_;
    driver_.cli_path = script_;
    driver_.config_dir = dir_;
    driver_.home_dir = dir_;
    driver_.tmp_dir = dir_;
    driver_.use_bwrap = false;
  }

  ~cli_launch_test() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  /// Starts the CLI through the launcher and waits for the result; `on` is the thread `done`
  /// ran on.
  caa::cli_start_result start(std::thread::id& on) {
    std::promise<caa::cli_start_result> done;
    auto result = done.get_future();
    launcher_->start(opts_, driver_, [&done, &on](caa::cli_start_result r) {
      on = std::this_thread::get_id();
      done.set_value(std::move(r));
    });
    EXPECT_EQ(result.wait_for(10s), std::future_status::ready);
    return result.get();
  }

  std::string dir_;
  std::string script_;
  caa::claude::query_options opts_;
  caa::claude::driver_config driver_;
  caa::agent_io io_{1, 1};
  std::shared_ptr<caa::cli_launcher> launcher_ = caa::make_process_launcher(io_);
};

TEST_F(cli_launch_test, a_start_runs_on_a_launch_thread_and_loses_nothing_before_it_is_served) {
  std::thread::id on;
  auto started = start(on);
  ASSERT_TRUE(started.cli) << caf::to_string(started.error);
  EXPECT_NE(on, std::this_thread::get_id());
  ASSERT_TRUE(eventually([&] { return !pids_with_arg(script_).empty(); }, 5s));
  std::this_thread::sleep_for(100ms);  // its first line waits in the pipe meanwhile
  auto rec = std::make_shared<recorder>();
  auto proc = started.cli->serve(recorder::batched_callbacks(rec));
  ASSERT_TRUE(proc) << caf::to_string(proc.error());
  EXPECT_TRUE(rec->wait_line([](const std::string& l) { return l == R"({"type":"ready"})"; }, 5s));
  ASSERT_FALSE((*proc)->write_line(R"({"type":"echo"})"));
  EXPECT_TRUE(rec->wait_line([](const std::string& l) { return l == R"({"type":"echo"})"; }, 5s));
  EXPECT_FALSE(started.cli->serve(recorder::batched_callbacks(rec))) << "served twice";
  (*proc)->kill();
  EXPECT_TRUE(rec->wait_exit(5s).has_value());
}

TEST_F(cli_launch_test, a_started_process_nobody_serves_is_killed_and_reaped) {
  std::thread::id on;
  auto started = start(on);
  ASSERT_TRUE(started.cli) << caf::to_string(started.error);
  ASSERT_TRUE(eventually([&] { return !pids_with_arg(script_).empty(); }, 5s));
  started.cli.reset();  // its session went away meanwhile
  EXPECT_TRUE(eventually([&] { return pids_with_arg(script_).empty(); }, 5s));
  EXPECT_TRUE(eventually([] { return zombie_children() == 0; }, 5s));
}

TEST_F(cli_launch_test, a_process_that_cannot_start_reports_the_failing_step) {
  driver_.cli_path = dir_ + "/missing";
  std::thread::id on;
  auto started = start(on);
  EXPECT_FALSE(started.cli);
  EXPECT_NE(caf::to_string(started.error).find("execve"), std::string::npos)
      << caf::to_string(started.error);
}

}  // namespace
