#pragma once

// How the hostile-tenant battery writes a probe and reads its output: the verdict markers of a
// shell probe, a loopback TCP probe, and small readers of what an attempt printed or left on the
// host. Which attempts the battery makes is in sandbox_battery_test.cpp.

#include <gtest/gtest.h>

#include <signal.h>
#include <sys/stat.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <regex>
#include <string>
#include <utility>
#include <vector>

namespace caa::test::battery {

/// Shell lines that print the verdict markers (the empty '' keeps the marker out of the command).
inline const std::string escaped_line = "echo caa-verdict:''escaped";
inline const std::string refused_line = "echo caa-verdict:''refused";
inline const std::string escaped_marker = "caa-verdict:escaped";
inline const std::string refused_marker = "caa-verdict:refused";

/// `probe` as a group whose success means the attack worked.
inline std::string verdict(const std::string& probe) {
  return "{ " + probe + "\n} && " + escaped_line + " || " + refused_line;
}

/// Connects to host:port with bash's /dev/tcp (at most 5 s), then runs `then`, if any, with the
/// connection on fd 3 and its own bound; succeeds exactly when the connection was made.
inline std::string tcp_probe(const std::string& host, uint16_t port, const std::string& then = {}) {
  auto inner = "exec 3<>/dev/tcp/" + host + "/" + std::to_string(port) + " || exit 1";
  if (!then.empty()) inner += "; " + then;
  return "timeout 5 bash -c '" + inner + "; exit 0'";
}

/// The number after `name=` in `text`, or nullopt.
inline std::optional<long long> number_after(const std::string& text, const std::string& name) {
  std::smatch m;
  std::regex re{"(^|[^A-Za-z_-])" + name + "=(-?[0-9]+)"};
  if (!std::regex_search(text, m, re)) return std::nullopt;
  return std::stoll(m[2]);
}

/// The text after `name=` up to the end of its line ("" when absent).
inline std::string text_after(const std::string& text, const std::string& name) {
  auto at = text.find(name + "=");
  if (at == std::string::npos) return {};
  at += name.size() + 1;
  return text.substr(at, text.find('\n', at) - at);
}

/// The lines of `path` (none when the test may not read it).
inline std::vector<std::string> lines_of(const std::filesystem::path& path) {
  std::ifstream in{path};
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

/// The host uid and gid that own `path` (nullopt when it cannot be stat'ed).
inline std::optional<std::pair<uid_t, gid_t>> owner_of(const std::filesystem::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  return std::make_pair(st.st_uid, st.st_gid);
}

/// Whether `pid` is alive.
inline bool alive(int pid) {
  return pid > 0 && ::kill(pid, 0) == 0;
}

/// The failure-message count of the running test (to tell whether a row failed).
inline int failures_so_far() {
  auto* result = ::testing::UnitTest::GetInstance()->current_test_info()->result();
  int n = 0;
  for (int i = 0; i < result->total_part_count(); ++i)
    if (result->GetTestPartResult(i).failed()) ++n;
  return n;
}

}  // namespace caa::test::battery
