#include "actors/version.hpp"

#include <cstdio>

int main() {
  std::printf("claude-agent-api %s\n", caa::version().data());
  return 0;
}
