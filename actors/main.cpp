#include "actors/service.hpp"
#include "config/loader.hpp"
#include "config/logging.hpp"

#include <sys/prctl.h>
#include <sys/resource.h>
#include <csignal>
#include <cstdio>

int main(int argc, char** argv) {
  // Block SIGINT/SIGTERM in every thread; the service waits for them with sigwait.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
  // No core dumps and no ptrace by other users: memory holds keys.
  rlimit no_core{0, 0};
  setrlimit(RLIMIT_CORE, &no_core);
  prctl(PR_SET_DUMPABLE, 0);
  auto loaded = caa::load_settings(argc, argv);
  if (loaded.help_requested) {
    std::fputs(caa::usage().c_str(), stdout);
    return 0;
  }
  if (!loaded.value) {
    for (auto& e : loaded.errors) std::fprintf(stderr, "configuration error: %s\n", e.c_str());
    return 2;
  }
  caa::log::set_level(loaded.value->level);
  caa::log_settings(*loaded.value);
  return caa::run_service(*loaded.value);
}
