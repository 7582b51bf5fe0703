// test_mcp_server: a stdio MCP server for tests (see README.md). `--log PATH` appends every
// input line to PATH, to see what a client sent.

#include "mcp_server.hpp"

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>

int main(int argc, char** argv) {
  std::ofstream log;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--log") == 0 && i + 1 < argc) {
      log.open(argv[++i], std::ios::app);
    } else {
      std::cerr << "usage: test_mcp_server [--log PATH]\n";
      return 2;
    }
  }
  auto env = [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    return value ? std::optional<std::string>{value} : std::nullopt;
  };
  std::string line;
  while (std::getline(std::cin, line)) {
    if (log.is_open()) log << line << std::endl;
    if (auto reply = mcp_test::handle_line(line, env)) std::cout << *reply << std::endl;
  }
  return 0;
}
