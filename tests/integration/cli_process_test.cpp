// Real processes under agent_process: the pinned CLI (CLAUDE_CLI_PATH, skipped when unset),
// bubblewrap containment, stderr floods, huge lines, the exact environment and fds of the child.
#include "tests/integration/cli_process_support.hpp"
#include "transport/claude/control.hpp"

#include <cstdlib>

using namespace caa::claude;
using namespace caa::claude::test;

namespace {

/// The real CLI's configuration in a private tree (no API call is made by these tests).
driver_config real_cli_config(const temp_tree& tree, const char* cli) {
  driver_config cfg;
  cfg.cli_path = cli;
  cfg.config_dir = (tree.root / "config").string();
  cfg.home_dir = (tree.root / "home").string();
  cfg.tmp_dir = (tree.root / "tmp").string();
  cfg.anthropic_api_key = "sk-test";
  cfg.anthropic_base_url = "http://127.0.0.1:9";
  cfg.use_bwrap = bwrap_available();
  return cfg;
}

auto response_to(const std::string& id) {
  return [id](const std::string& line) {
    auto msg = classify(line);
    return msg.kind == message_kind::control_response && msg.request_id == id;
  };
}

}  // namespace

TEST_F(cli_process, real_cli_initialize_then_end_session_exits_zero) {
  const char* cli = std::getenv("CLAUDE_CLI_PATH");
  if (cli == nullptr || *cli == '\0') GTEST_SKIP() << "CLAUDE_CLI_PATH not set";
  temp_tree tree;
  query_options opts;
  opts.cwd = (tree.root / "work").string();
  opts.session_id = "5b0e3c1a-7d2f-4e6a-9b8c-1d2e3f4a5b6c";
  std::map<std::string, agent_definition> agents{
      {"reviewer", {"Reviews code", "You review code.", {"Read"}, std::nullopt}}};
  auto rec = std::make_shared<recorder>();
  auto proc = start(make_spawn_spec(opts, real_cli_config(tree, cli)), rec);
  ASSERT_TRUE(proc);
  request_id_generator ids;
  auto init_id = ids.next();
  auto init = initialize(init_id, "", agents_json(agents));
  ASSERT_TRUE(init);
  ASSERT_FALSE(proc->write_line(*init));
  auto resp = rec->wait_line(response_to(init_id), 60s);
  ASSERT_TRUE(resp) << "no initialize response";
  EXPECT_EQ(classify(*resp).subtype, "success");
  EXPECT_NE(resp->find("\"name\":\"reviewer\""), std::string::npos) << "our agent is registered";
  auto end_id = ids.next();
  ASSERT_FALSE(proc->write_line(end_session(end_id)));
  auto end = rec->wait_line(response_to(end_id), 30s);
  ASSERT_TRUE(end);
  EXPECT_EQ(classify(*end).subtype, "success");
  auto info = rec->wait_exit(30s);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->exit_code, 0);
  EXPECT_EQ(info->signal, 0);
  EXPECT_EQ(info->stderr_bytes, 0u) << info->stderr_tail;
  EXPECT_FALSE(proc->running());
}

TEST_F(cli_process, real_cli_version) {
  const char* cli = std::getenv("CLAUDE_CLI_PATH");
  if (cli == nullptr || *cli == '\0') GTEST_SKIP() << "CLAUDE_CLI_PATH not set";
  spawn_spec spec;
  spec.argv = {cli, "-v"};
  spec.env = {"PATH=/usr/bin:/bin", "HOME=/tmp"};
  spec.cwd = "/tmp";
  spec.use_bwrap = bwrap_available();
  auto rec = std::make_shared<recorder>();
  auto proc = start(spec, rec);
  ASSERT_TRUE(proc);
  auto info = rec->wait_exit(30s);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->exit_code, 0);
  EXPECT_EQ(rec->snapshot(), std::vector<std::string>{"2.1.197 (Claude Code)"});
}

TEST_F(cli_process, stop_under_bwrap_leaves_no_process_of_the_tree) {
  if (!bwrap_available()) GTEST_SKIP() << "bwrap not installed";
  // What the Bash tool does: a child in its own session survives a kill of the CLI's group.
  auto escaped = marker(1);
  auto grouped = marker(2);
  auto rec = std::make_shared<recorder>();
  auto proc = start(
      shell("setsid sleep " + escaped + " & sleep " + grouped + " & echo '{\"ready\":1}'; wait",
            true),
      rec);
  ASSERT_TRUE(proc);
  ASSERT_TRUE(rec->wait_line([](auto& l) { return l == "{\"ready\":1}"; }, 10s));
  ASSERT_TRUE(eventually([&] { return !pids_with_arg(escaped).empty(); }, 5s));
  ASSERT_TRUE(eventually([&] { return !pids_with_arg(grouped).empty(); }, 5s));
  proc->stop(200ms, 500ms);
  auto info = rec->wait_exit(10s);
  ASSERT_TRUE(info);
  EXPECT_TRUE(eventually([&] { return pids_with_arg(escaped).empty(); }, 5s)) << "setsid child";
  EXPECT_TRUE(eventually([&] { return pids_with_arg(grouped).empty(); }, 5s)) << "group child";
  EXPECT_EQ(zombie_children(), 0u);
}

TEST_F(cli_process, without_bwrap_the_group_dies_but_a_setsid_grandchild_escapes) {
  auto escaped = marker(3);
  auto grouped = marker(4);
  auto rec = std::make_shared<recorder>();
  auto proc = start(
      shell("setsid sleep " + escaped + " & sleep " + grouped + " & echo '{\"ready\":1}'; wait",
            false),
      rec);
  ASSERT_TRUE(proc);
  ASSERT_TRUE(rec->wait_line([](auto& l) { return l == "{\"ready\":1}"; }, 10s));
  ASSERT_TRUE(eventually([&] { return !pids_with_arg(escaped).empty(); }, 5s));
  proc->stop(100ms, 300ms);
  ASSERT_TRUE(rec->wait_exit(10s));
  EXPECT_TRUE(eventually([&] { return pids_with_arg(grouped).empty(); }, 5s));
  auto survivors = pids_with_arg(escaped);
  EXPECT_FALSE(survivors.empty()) << "the reason bubblewrap is the default";
  for (pid_t pid : survivors) ::kill(pid, SIGKILL);
}

TEST_F(cli_process, hundred_megabytes_of_stderr_do_not_deadlock) {
  auto rec = std::make_shared<recorder>();
  auto proc = start(shell("head -c 104857600 /dev/zero | tr '\\0' e >&2; printf TAIL-MARKER >&2;"
                          " echo '{\"after\":1}'",
                          false),
                    rec);
  ASSERT_TRUE(proc);
  auto info = rec->wait_exit(120s);
  ASSERT_TRUE(info) << "deadlocked";
  EXPECT_EQ(info->exit_code, 0);
  EXPECT_EQ(info->stderr_bytes, 104857600u + 11u);
  ASSERT_EQ(info->stderr_tail.size(), 8192u);
  EXPECT_EQ(info->stderr_tail.substr(8192 - 11), "TAIL-MARKER");
  EXPECT_EQ(info->stderr_tail.front(), 'e');
  EXPECT_EQ(rec->snapshot(), std::vector<std::string>{"{\"after\":1}"});
}

TEST_F(cli_process, a_three_megabyte_stdout_line_arrives_intact) {
  auto rec = std::make_shared<recorder>();
  auto proc = start(shell("printf '{\"x\":\"'; head -c 3145728 /dev/zero | tr '\\0' a;"
                          " printf '\"}\\n{\"next\":1}\\n'",
                          bwrap_available()),
                    rec);
  ASSERT_TRUE(proc);
  ASSERT_TRUE(rec->wait_exit(60s));
  auto lines = rec->snapshot();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], "{\"x\":\"" + std::string(3145728, 'a') + "\"}");
  EXPECT_EQ(lines[1], "{\"next\":1}");
  EXPECT_EQ(rec->oversized, 0u);
}

TEST_F(cli_process, on_lines_gets_every_line_in_order_in_fewer_calls) {
  // 5,000 lines written in blocks (sed buffers its output) arrive in reads of many lines each;
  // the last one, without a newline, comes at the end.
  auto rec = std::make_shared<recorder>();
  auto spec = shell("seq 0 4999 | sed 's/.*/{\"i\":&}/'; printf '{\"last\":1}'", false);
  auto proc = start(spec, rec, true);
  ASSERT_TRUE(proc);
  ASSERT_TRUE(rec->wait_exit(60s));
  auto lines = rec->snapshot();
  ASSERT_EQ(lines.size(), 5001u);
  for (int i = 0; i < 5000; ++i) ASSERT_EQ(lines[i], "{\"i\":" + std::to_string(i) + "}");
  EXPECT_EQ(lines.back(), "{\"last\":1}");
  EXPECT_LT(rec->batches, lines.size());
}

TEST_F(cli_process, the_child_environment_is_exactly_build_env) {
  ::setenv("DATABASE_URL", "postgresql://secret@db/x", 1);
  ::setenv("REDIS_URL", "redis://secret@r/0", 1);
  ::setenv("API_KEY", "bootstrap-admin-key", 1);
  query_options opts;
  opts.cwd = "/tmp";
  opts.env = {{"MY_TENANT_VAR", "hello world"}};
  driver_config cfg;
  cfg.cli_path = "/usr/bin/env";
  cfg.config_dir = "/tmp/cfg";
  cfg.home_dir = "/tmp/home";
  cfg.tmp_dir = "/tmp";
  cfg.anthropic_base_url = "http://127.0.0.1:9";
  cfg.use_bwrap = bwrap_available();
  auto spec = make_spawn_spec(opts, cfg);
  spec.argv = {"/usr/bin/env"};
  auto rec = std::make_shared<recorder>();
  auto proc = start(spec, rec);
  ASSERT_TRUE(proc);
  ASSERT_TRUE(rec->wait_exit(20s));
  auto lines = rec->snapshot();
  std::sort(lines.begin(), lines.end());
  EXPECT_EQ(lines, spec.env);
  for (const auto& kv : lines)
    EXPECT_TRUE(kv.rfind("DATABASE_URL=", 0) && kv.rfind("REDIS_URL=", 0) &&
                kv.rfind("API_KEY=", 0))
        << kv;
}

TEST_F(cli_process, the_child_has_only_the_standard_fds) {
  int leaked = ::open("/dev/null", O_RDONLY);  // deliberately without O_CLOEXEC
  ASSERT_GE(leaked, 3);
  for (bool wrap : {false, true}) {
    if (wrap && !bwrap_available()) continue;
    auto spec = shell("exec ls /proc/self/fd", wrap);
    auto rec = std::make_shared<recorder>();
    auto proc = start(spec, rec);
    ASSERT_TRUE(proc);
    ASSERT_TRUE(rec->wait_exit(20s));
    // 3 is the directory ls itself opened to list /proc/self/fd.
    EXPECT_EQ(rec->snapshot(), (std::vector<std::string>{"0", "1", "2", "3"})) << "bwrap " << wrap;
  }
  ::close(leaked);
}

TEST_F(cli_process, spawn_errors_are_values) {
  auto rec = std::make_shared<recorder>();
  spawn_spec missing = shell("true", false);
  missing.argv = {"/nonexistent/claude"};
  auto proc = agent_process::spawn(io_, missing, recorder::callbacks(rec));
  ASSERT_FALSE(proc);
  EXPECT_NE(caf::to_string(proc.error()).find("execve"), std::string::npos);
  spawn_spec bad_cwd = shell("true", false);
  bad_cwd.cwd = "/nonexistent/dir";
  auto proc2 = agent_process::spawn(io_, bad_cwd, recorder::callbacks(rec));
  ASSERT_FALSE(proc2);
  EXPECT_NE(caf::to_string(proc2.error()).find("chdir"), std::string::npos);
  EXPECT_EQ(zombie_children(), 0u);
}

TEST_F(cli_process, exit_codes_and_signals) {
  struct expect {
    const char* script;
    bool wrap;
    int code;
    int signal;
  };
  for (auto [script, wrap, code, signal] :
       {expect{"exit 7", false, 7, 0}, expect{"kill -KILL $$", false, -1, SIGKILL},
        expect{"true", false, 0, 0}, expect{"kill -TERM $$", true, 143, 0}}) {
    if (wrap && !bwrap_available()) continue;
    auto rec = std::make_shared<recorder>();
    auto proc = start(shell(script, wrap), rec);
    ASSERT_TRUE(proc);
    auto info = rec->wait_exit(20s);
    ASSERT_TRUE(info) << script;
    EXPECT_EQ(info->exit_code, code) << script;
    EXPECT_EQ(info->signal, signal) << script;
  }
}

TEST_F(cli_process, stdin_lines_are_checked_serialised_and_ordered) {
  auto rec = std::make_shared<recorder>();
  auto proc = start(shell("exec cat", false), rec);
  ASSERT_TRUE(proc);
  for (const std::string& bad : {std::string{}, std::string{"   "}, std::string{"{\"a\":\n1}"},
                                 std::string{"{\"a\":1}\r"}, std::string{"not json"}})
    EXPECT_TRUE(proc->write_line(bad)) << "accepted: " << bad;
  std::vector<std::string> sent;
  for (int i = 0; i < 2000; ++i) {
    sent.push_back("{\"i\":" + std::to_string(i) + ",\"pad\":\"" + std::string(i % 97, 'p') +
                   "\"}");
    ASSERT_FALSE(proc->write_line(sent.back()));
  }
  proc->close_stdin();
  EXPECT_TRUE(proc->write_line("{\"late\":1}")) << "stdin is closed";
  auto info = rec->wait_exit(30s);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->exit_code, 0);
  EXPECT_EQ(rec->snapshot(), sent);
}

TEST_F(cli_process, paused_reading_holds_lines_back) {
  auto rec = std::make_shared<recorder>();
  auto proc = start(shell("exec cat", false), rec);
  ASSERT_TRUE(proc);
  ASSERT_FALSE(proc->write_line("{\"first\":1}"));
  ASSERT_TRUE(rec->wait_line([](auto& l) { return l == "{\"first\":1}"; }, 10s));
  proc->pause_reading();
  std::this_thread::sleep_for(50ms);  // let the pause reach the strand before more output
  ASSERT_FALSE(proc->write_line("{\"second\":1}"));
  EXPECT_FALSE(rec->wait_line([](auto& l) { return l == "{\"second\":1}"; }, 300ms));
  proc->resume_reading();
  EXPECT_TRUE(rec->wait_line([](auto& l) { return l == "{\"second\":1}"; }, 10s));
}

TEST_F(cli_process, destroying_the_handle_kills_and_reaps) {
  auto m = marker(5);
  pid_t pid = -1;
  {
    auto rec = std::make_shared<recorder>();
    spawn_spec spec = shell("true", false);
    spec.argv = {"/bin/sleep", m};
    auto proc = start(spec, rec);
    ASSERT_TRUE(proc);
    pid = proc->pid();
    ASSERT_TRUE(eventually([&] { return !pids_with_arg(m).empty(); }, 5s));
  }
  EXPECT_TRUE(eventually([&] { return !fs::exists("/proc/" + std::to_string(pid)); }, 5s))
      << "killed and reaped, no zombie";
  EXPECT_TRUE(pids_with_arg(m).empty());
}
