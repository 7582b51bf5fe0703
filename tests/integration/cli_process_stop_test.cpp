// Stopping: the real CLI's Bash tool child (own session) dies with the session under bubblewrap;
// a child that ignores SIGTERM is killed after the grace; a dead reader of stdin is not fatal.
#include "tests/integration/cli_process_support.hpp"
#include "tests/integration/stub_model.hpp"
#include "transport/claude/control.hpp"

#include <atomic>
#include <cstdlib>
#include <fstream>

using namespace caa::claude;
using namespace caa::claude::test;

namespace {

/// The session id of `pid` (field 6 of /proc/<pid>/stat), or -1.
pid_t session_of(pid_t pid) {
  auto stat = read_proc_file("/proc/" + std::to_string(pid) + "/stat");
  auto close = stat.rfind(')');
  if (close == std::string::npos) return -1;
  int ppid = 0, pgrp = 0, session = -1;
  char state = 0;
  std::sscanf(stat.c_str() + close + 1, " %c %d %d %d", &state, &ppid, &pgrp, &session);
  return session;
}

}  // namespace

TEST_F(cli_process, real_cli_bash_tool_child_dies_with_the_session_under_bwrap) {
  const char* cli = std::getenv("CLAUDE_CLI_PATH");
  if (cli == nullptr || *cli == '\0') GTEST_SKIP() << "CLAUDE_CLI_PATH not set";
  if (!bwrap_available()) GTEST_SKIP() << "bwrap not installed";
  auto m = marker(6);
  stub_model model{"sleep " + m};
  ASSERT_NE(model.port(), 0);
  temp_tree tree;
  driver_config cfg;
  cfg.cli_path = cli;
  cfg.config_dir = (tree.root / "config").string();
  cfg.home_dir = (tree.root / "home").string();
  cfg.tmp_dir = (tree.root / "tmp").string();
  cfg.anthropic_api_key = "sk-test";
  cfg.anthropic_base_url = "http://127.0.0.1:" + std::to_string(model.port());
  query_options opts;
  opts.cwd = (tree.root / "work").string();
  opts.permission_mode = "bypassPermissions";  // so the Bash call runs without a prompt
  auto rec = std::make_shared<recorder>();
  auto proc = start(make_spawn_spec(opts, cfg), rec);
  ASSERT_TRUE(proc);
  request_id_generator ids;
  auto init = initialize(ids.next(), "", "");
  ASSERT_TRUE(init);
  ASSERT_FALSE(proc->write_line(*init));
  ASSERT_FALSE(proc->write_line(user_message("run it", "0f6d9a2e-1b3c-4d5e-8f70-112233445566")));
  ASSERT_TRUE(eventually([&] { return !pids_with_arg(m).empty(); }, 60s))
      << "the Bash tool never ran; stdout lines: " << rec->snapshot().size();
  auto tool_pids = pids_with_arg(m);
  for (pid_t pid : tool_pids)
    EXPECT_NE(session_of(pid), proc->pid()) << "the tool escaped the CLI's session";
  proc->stop(std::chrono::milliseconds{100}, std::chrono::milliseconds{500});
  auto info = rec->wait_exit(std::chrono::seconds{20});
  ASSERT_TRUE(info);
  EXPECT_TRUE(eventually([&] { return pids_with_arg(m).empty(); }, 5s)) << "tool survived";
  EXPECT_GE(model.message_calls(), 1);
}

TEST_F(cli_process, sigterm_ignored_escalates_to_sigkill) {
  auto rec = std::make_shared<recorder>();
  auto proc =
      start(shell("trap '' TERM; echo '{\"ready\":1}'; while :; do sleep 0.05; done", false), rec);
  ASSERT_TRUE(proc);
  ASSERT_TRUE(rec->wait_line([](auto& l) { return l == "{\"ready\":1}"; }, 10s));
  auto begun = std::chrono::steady_clock::now();
  proc->stop(std::chrono::milliseconds{100}, std::chrono::milliseconds{300});
  auto info = rec->wait_exit(10s);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->signal, SIGKILL);
  EXPECT_LT(std::chrono::steady_clock::now() - begun, 5s);
  EXPECT_EQ(zombie_children(), 0u);
}

TEST_F(cli_process, writing_to_a_closed_stdin_is_not_fatal) {
  auto rec = std::make_shared<recorder>();
  auto proc = start(shell("exec 0<&-; echo '{\"closed\":1}'; sleep 1", false), rec);
  ASSERT_TRUE(proc);
  ASSERT_TRUE(rec->wait_line([](auto& l) { return l == "{\"closed\":1}"; }, 10s));
  for (int i = 0; i < 100; ++i)
    (void)proc->write_line("{\"i\":" + std::to_string(i) + "}");  // EPIPE, never SIGPIPE
  auto info = rec->wait_exit(10s);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->exit_code, 0);
  EXPECT_TRUE(proc->write_line("{\"after\":1}")) << "refused once stdin is known closed";
}

TEST(cli_process_teardown, io_context_gone_first_still_kills_and_reaps) {
  auto m = marker(7);
  pid_t pid = -1;
  bool ran = false;
  bool gone_then = false;
  {
    boost::asio::io_context never_run;
    spawn_spec spec = shell("true", false);
    spec.argv = {"/bin/sleep", m};
    auto rec = std::make_shared<recorder>();
    auto proc = agent_process::spawn(never_run, spec, recorder::callbacks(rec));
    ASSERT_TRUE(proc);
    pid = proc->pid();
    proc->when_reaped([&] {
      gone_then = !fs::exists("/proc/" + std::to_string(pid));
      ran = true;
    });
    ASSERT_TRUE(eventually([&] { return !pids_with_arg(m).empty(); }, 5s));
    // The handle goes first, then the io_context with every pending handler.
  }
  EXPECT_FALSE(fs::exists("/proc/" + std::to_string(pid))) << "killed and reaped synchronously";
  EXPECT_EQ(zombie_children(), 0u);
  EXPECT_TRUE(ran) << "the reaped hook never ran";
  EXPECT_TRUE(gone_then) << "the reaped hook ran before the process was reaped";
}

// -- what runs once a process is reaped (the slot of a killed, forgotten process goes back then) --

TEST_F(cli_process, a_reaped_hook_runs_after_the_reap_even_when_the_handle_is_gone) {
  auto m = marker(8);
  spawn_spec spec = shell("true", false);
  spec.argv = {"/bin/sleep", m};
  auto rec = std::make_shared<recorder>();
  auto proc = start(spec, rec);
  ASSERT_TRUE(proc);
  auto pid = proc->pid();
  ASSERT_TRUE(eventually([&] { return !pids_with_arg(m).empty(); }, 5s));
  std::atomic<int> runs{0};
  std::atomic<bool> gone_then{false};
  proc->when_reaped([&, pid] {
    gone_then = !fs::exists("/proc/" + std::to_string(pid));
    ++runs;
  });
  proc.reset();  // killed; nobody gets its exit, yet the hook still runs
  ASSERT_TRUE(eventually([&] { return runs.load() > 0; }, 10s)) << "the hook never ran";
  EXPECT_TRUE(gone_then.load()) << "the hook ran before the process was reaped";
  EXPECT_FALSE(rec->wait_exit(200ms)) << "a dropped handle still reported its exit";
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(runs.load(), 1) << "the hook ran more than once";
  EXPECT_EQ(zombie_children(), 0u);
}

TEST_F(cli_process, a_reaped_hook_of_a_process_already_reaped_runs_at_once) {
  auto rec = std::make_shared<recorder>();
  auto proc = start(shell("exit 0", false), rec);
  ASSERT_TRUE(proc);
  ASSERT_TRUE(rec->wait_exit(10s));
  ASSERT_FALSE(proc->running());
  auto caller = std::this_thread::get_id();
  std::thread::id ran_on;
  proc->when_reaped([&] { ran_on = std::this_thread::get_id(); });
  EXPECT_EQ(ran_on, caller) << "not run at once on the caller's thread";
}
