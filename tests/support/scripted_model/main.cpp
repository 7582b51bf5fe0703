#include "options.hpp"
#include "server.hpp"

#include <sys/prctl.h>
#include <unistd.h>

#include <csignal>
#include <iostream>

int main(int argc, char** argv) {
  // Never outlive the process (thread) that started us, e.g. a test that crashed.
  const auto parent = getppid();
  if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent) return 1;
  std::string error;
  const auto opts = scripted_model::parse_options(argc, argv, error);
  if (!opts) {
    std::cerr << error << (error.back() == '\n' ? "" : "\n") << scripted_model::usage();
    return 2;
  }
  return scripted_model::run_server(*opts);
}
