#include "actors/health_monitor.hpp"

#include "actors/types.hpp"
#include "config/logging.hpp"

#include <caf/all.hpp>

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

extern char** environ;

namespace caa {

namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

double ms_since(clock_type::time_point t0) {
  return std::chrono::duration<double, std::milli>(clock_type::now() - t0).count();
}

struct monitor_state {
  static inline const char* name = "health_monitor";
  int ticks = 0;
};

using monitor_self = health_monitor_actor::stateful_pointer<monitor_state>;

void probe_cli(monitor_self self, const health_monitor_deps& d) {
  // `-v` is a blocking child process: run it on a detached one-shot actor.
  self->spawn<caf::detached>(
      [](caf::event_based_actor* helper, const std::string& path, health_board* board) {
        auto t0 = clock_type::now();
        bool ok = cli_runs(path);
        board->set_cli(ok, ms_since(t0));
        if (!ok)
          log::warn_once("cli-down", "the agent CLI does not run", {.component = "health"});
        else
          log::rearm_once("cli-down");
        helper->quit();
      },
      d.cli_path, d.board);
}

void probe_storage(monitor_self self, const health_monitor_deps& d) {
  auto t0 = clock_type::now();
  auto* board = d.board;
  self->request(d.pg, 2s, atom::ping_v)
      .then([=](bool ok) { board->set_postgres(ok, ms_since(t0)); },
            [=](caf::error&) { board->set_postgres(false, ms_since(t0)); });
  self->request(d.redis, 2s, storage::redis_command{{"PING"}})
      .then(
          [=](storage::redis_reply& r) {
            board->set_redis(r.kind == storage::redis_reply_kind::status && r.str == "PONG",
                             ms_since(t0));
          },
          [=](caf::error&) { board->set_redis(false, ms_since(t0)); });
}

health_monitor_actor::behavior_type monitor(monitor_self self, const health_monitor_deps& d) {
  self->send(self, atom::probe_v);
  return {
      [=](atom::probe) {
        probe_storage(self, d);
        if (self->state.ticks++ % 15 == 0) probe_cli(self, d);
        self->delayed_send(self, 2s, atom::probe_v);
      },
  };
}

}  // namespace

bool cli_runs(const std::string& cli_path) {
  int out[2];
  if (pipe(out) != 0) return false;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addclose(&fa, out[0]);
  char* argv[] = {const_cast<char*>(cli_path.c_str()), const_cast<char*>("-v"), nullptr};
  char* envp[] = {const_cast<char*>("PATH=/usr/local/bin:/usr/bin:/bin"),
                  const_cast<char*>("DISABLE_AUTOUPDATER=1"), nullptr};
  pid_t pid = 0;
  int rc = posix_spawn(&pid, cli_path.c_str(), &fa, nullptr, argv, envp);
  posix_spawn_file_actions_destroy(&fa);
  close(out[1]);
  if (rc != 0) {
    close(out[0]);
    return false;
  }
  char buf[128];
  ssize_t n = -1;
  pollfd pfd{out[0], POLLIN, 0};
  if (poll(&pfd, 1, 10'000) == 1) n = read(out[0], buf, sizeof(buf));  // the version line, or EOF
  close(out[0]);
  int status = 0;
  for (int i = 0; i < 100; ++i) {  // at most 10 s
    if (waitpid(pid, &status, WNOHANG) == pid)
      return n > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    std::this_thread::sleep_for(100ms);
  }
  kill(pid, SIGKILL);
  waitpid(pid, &status, 0);
  return false;
}

health_monitor_actor spawn_health_monitor(caf::actor_system& sys, health_monitor_deps deps) {
  return sys.spawn(monitor, std::move(deps));
}

}  // namespace caa
