#pragma once

// The fixture of the hostile-tenant battery (sandbox_battery_test.cpp): the session-flow suite
// (one scripted model, one service, agent keys of tenants alpha and beta) started with the
// sandbox's limits, a distinctive operator key, a tenant-variables file holding a secret, a
// root-only secret file outside every workspace, and a TCP listener of the test's own on
// another loopback address (127.0.0.2) that records whether anything ever connected to it.
// Helpers run one Bash tool call as a turn, extract what the tool printed, and check that no
// secret of the suite appears anywhere in what a turn streamed (failure messages redact them).

#include "tests/integration/session_flow_fixture.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <atomic>
#include <cstdio>
#include <functional>
#include <optional>
#include <regex>
#include <sstream>
#include <thread>
#include <utility>
#include <vector>

namespace caa::test {

/// A TCP listener of the test on `address`:<free port>; it accepts, counts and closes every
/// connection until it is destroyed. Loopback addresses only.
class loopback_listener {
 public:
  /// Listens on `address` (throws std::runtime_error when it cannot).
  explicit loopback_listener(const std::string& address) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw std::runtime_error("socket failed");
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = 0;
    if (::inet_pton(AF_INET, address.c_str(), &sa.sin_addr) != 1 ||
        (ntohl(sa.sin_addr.s_addr) >> 24) != 127) {
      ::close(fd_);
      throw std::runtime_error("not a loopback address: " + address);
    }
    socklen_t len = sizeof sa;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&sa), len) != 0 || ::listen(fd_, 16) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&sa), &len) != 0) {
      ::close(fd_);
      throw std::runtime_error("cannot listen on " + address);
    }
    port_ = ntohs(sa.sin_port);
    thread_ = std::thread{[this] { run(); }};
  }
  ~loopback_listener() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  loopback_listener(const loopback_listener&) = delete;
  loopback_listener& operator=(const loopback_listener&) = delete;

  /// Its port.
  uint16_t port() const noexcept { return port_; }
  /// The connections accepted so far.
  int accepted() const noexcept { return accepted_.load(); }
  /// Forgets the connections accepted so far.
  void reset() noexcept { accepted_ = 0; }

 private:
  void run() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      ++accepted_;
      ::close(c);
    }
  }

  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> accepted_{0};
  std::thread thread_;
};

/// `bytes` random bytes as lower-case hex.
inline std::string random_hex(std::size_t bytes) {
  static const char digits[] = "0123456789abcdef";
  std::random_device rd;
  std::string out;
  for (std::size_t i = 0; i < bytes; ++i) {
    auto b = rd() & 0xff;
    out += digits[b >> 4];
    out += digits[b & 0xf];
  }
  return out;
}

/// Writes `text` to `path` with `mode` (throws std::runtime_error on failure).
inline void write_file(const std::filesystem::path& path, const std::string& text,
                       std::filesystem::perms mode) {
  {
    std::ofstream out{path, std::ios::binary | std::ios::trunc};
    out << text;
    if (!out) throw std::runtime_error("cannot write " + path.string());
  }
  std::filesystem::permissions(path, mode);
}

/// The text of `path` ("" when it cannot be read).
inline std::string slurp(const std::filesystem::path& path) {
  std::ifstream in{path, std::ios::binary};
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// Host and port of a `scheme://[user[:pw]@]host[:port]/...` URL (port `fallback` when absent).
inline std::optional<std::pair<std::string, uint16_t>> url_endpoint(const std::string& url,
                                                                    uint16_t fallback) {
  static const std::regex re{R"(^[a-zA-Z][a-zA-Z0-9+.-]*://(?:[^@/]*@)?([^:/?]+)(?::([0-9]+))?)"};
  std::smatch m;
  if (!std::regex_search(url, m, re)) return std::nullopt;
  uint16_t port = m[2].matched ? static_cast<uint16_t>(std::stoi(m[2])) : fallback;
  return std::make_pair(m[1].str(), port);
}

/// `host` as an IPv4 loopback address for bash's /dev/tcp, or nullopt when it is not loopback.
inline std::optional<std::string> loopback_of(const std::string& host) {
  if (host == "localhost") return "127.0.0.1";
  in_addr a{};
  if (::inet_pton(AF_INET, host.c_str(), &a) == 1 && (ntohl(a.s_addr) >> 24) == 127) return host;
  return std::nullopt;
}

/// What one Bash tool call of an attempt produced.
struct attempt_outcome {
  sse_result turn;      ///< the whole stream of the turn
  std::string output;   ///< what the tool printed (tool_result text, stdout and stderr)
  std::string session;  ///< the session the turn ran in
};

/// The suite: the session-flow fixture started with the sandbox's settings and the secrets the
/// hostile tenant (alpha, "A") hunts for while tenant beta ("B") is active.
class sandbox_battery_test : public session_flow_test {
 protected:
  /// AGENT_MEMORY_MAX: the CLI itself holds 200-300 MB; the cap leaves the attempt's allocation
  /// room to become the largest process of the session, so that it is the one the OOM killer
  /// picks (the attempt allocates three times the cap).
  static constexpr uint64_t memory_max = 768ull << 20;
  static constexpr unsigned pids_max = 64;            ///< AGENT_PIDS_MAX
  static constexpr uint64_t disk_quota = 20'000'000;  ///< TENANT_DISK_QUOTA

  static void SetUpTestSuite() {
    if (!env_database_url() || std::getenv("CLAUDE_CLI_PATH") == nullptr) {
      start_suite({});  // records the skip reason
      return;
    }
    auto tmpl = (std::filesystem::temp_directory_path() / "caa-battery-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    scratch_ = tmpl;
    std::filesystem::permissions(
        scratch_, std::filesystem::perms::owner_all | std::filesystem::perms::group_read |
                      std::filesystem::perms::group_exec | std::filesystem::perms::others_read |
                      std::filesystem::perms::others_exec);
    operator_key_ = "sk-operator-" + random_hex(20);
    root_secret_ = "root-only-secret-" + random_hex(16);
    vars_secret_ = "tenant-variable-secret-" + random_hex(16);
    root_file_ = scratch_ / "operator-secret.txt";
    write_file(root_file_, root_secret_ + "\n",
               std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    vars_file_ = scratch_ / "tenant-variables.json";
    write_file(vars_file_, R"({"beta":{"BETA_TOKEN":")" + vars_secret_ + "\"}}\n",
               std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    try {
      listener_ = std::make_unique<loopback_listener>("127.0.0.2");
    } catch (const std::exception& e) {
      listener_error_ = e.what();
    }
    start_suite({{"ANTHROPIC_API_KEY", operator_key_},
                 {"AGENT_SANDBOX", "strict"},
                 {"AGENT_MEMORY_MAX", std::to_string(memory_max)},
                 {"AGENT_PIDS_MAX", std::to_string(pids_max)},
                 {"TENANT_DISK_QUOTA", std::to_string(disk_quota)},
                 // Egress on, with loopback names on the list: the proxy must still refuse
                 // them by their addresses.
                 {"AGENT_EGRESS_ALLOW",
                  "localhost,127.0.0.2:" + std::to_string(listener_ ? listener_->port() : 1)},
                 {"TENANT_VARIABLES_FILE", vars_file_.string()}});
  }

  static void TearDownTestSuite() {
    session_flow_test::TearDownTestSuite();  // the service (and its agents) end first
    listener_.reset();
    std::error_code ec;
    if (!scratch_.empty()) std::filesystem::remove_all(scratch_, ec);
    if (auto it = env_.find("WORKSPACE_ROOT"); it != env_.end() && !it->second.empty())
      std::filesystem::remove_all(it->second, ec);
  }

  /// The tenant directory `part` ("work", "config", "" for the root) of `who` on the host.
  static std::filesystem::path tenant_dir(const tenant_key& who, const std::string& part) {
    auto root = std::filesystem::path{env_["WORKSPACE_ROOT"]} / who.tenant_id;
    return part.empty() ? root : root / part;
  }

  /// The JSON body of a turn that makes the model run `command` with the Bash tool.
  static std::string bash_body(const std::string& command, const std::string& session = {}) {
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w{buf};
    w.StartObject();
    w.Key("prompt");
    w.String(("[[bash " + command + "]]").c_str());
    w.Key("allowed_tools");
    w.StartArray();
    w.String("Bash");
    w.EndArray();
    if (!session.empty()) {
      w.Key("session_id");
      w.String(session.c_str());
    }
    w.EndObject();
    return {buf.GetString(), buf.GetSize()};
  }

  /// One turn of `who` whose only tool call is Bash `command` (in `session`, or a new one).
  static attempt_outcome bash_turn(const tenant_key& who, const std::string& command,
                                   const std::string& session = {}) {
    attempt_outcome out;
    out.turn = sse_call(port(), "POST", "/api/v1/query", auth(who), bash_body(command, session), {},
                        std::chrono::seconds{300});
    out.output = tool_output(out.turn);
    out.session = session_of(out.turn);
    return out;
  }

  /// Ends session `id` of `who` (its agent process goes away); errors are ignored.
  static void end_session(const tenant_key& who, const std::string& id) {
    if (!id.empty()) http_call(port(), "DELETE", "/api/v1/sessions/" + id, auth(who));
  }

  /// What the tools printed in the stream: the text of every tool_result block, and the
  /// stdout/stderr of `tool_use_result` when there is no such text, decoded from JSON.
  static std::string tool_output(const sse_result& r) {
    std::string out;
    auto append_text = [&](const rapidjson::Value& v) {
      if (v.IsString()) {
        out.append(v.GetString(), v.GetStringLength());
        out += '\n';
      } else if (v.IsArray()) {
        for (auto& part : v.GetArray())
          if (part.IsObject() && part.HasMember("text") && part["text"].IsString()) {
            out.append(part["text"].GetString(), part["text"].GetStringLength());
            out += '\n';
          }
      }
    };
    for (auto& e : r.events) {
      if (e.event != "message") continue;
      auto d = parse_json(e.data);
      if (!d.IsObject()) continue;
      auto before = out.size();
      if (d.HasMember("content") && d["content"].IsArray())
        for (auto& block : d["content"].GetArray())
          if (block.IsObject() && block.HasMember("type") && block["type"].IsString() &&
              std::string_view{block["type"].GetString()} == "tool_result" &&
              block.HasMember("content"))
            append_text(block["content"]);
      // The structured copy of the same result, when the message had no tool_result text.
      if (out.size() == before && d.HasMember("tool_use_result") &&
          d["tool_use_result"].IsObject()) {
        auto& t = d["tool_use_result"];
        for (const char* key : {"stdout", "stderr"})
          if (t.HasMember(key)) append_text(t[key]);
      }
    }
    return out;
  }

  /// Whether the stream has an event named `name`.
  static bool has_event(const sse_result& r, const std::string& name) {
    for (auto& e : r.events)
      if (e.event == name) return true;
    return false;
  }

  /// The secrets of the suite by name: none may ever reach tenant A.
  static std::vector<std::pair<std::string, std::string>>& secrets() {
    static std::vector<std::pair<std::string, std::string>> all;
    return all;
  }

  /// `text` with every secret replaced by its name (for failure messages), at most 6000 bytes.
  static std::string redact(std::string text) {
    for (auto& [name, value] : secrets()) {
      if (value.empty()) continue;
      for (auto at = text.find(value); at != std::string::npos; at = text.find(value, at))
        text.replace(at, value.size(), "<" + name + ">");
    }
    if (text.size() > 6000) text = text.substr(0, 6000) + "...";
    return text;
  }

  /// The names of the secrets that occur in `text`.
  static std::vector<std::string> leaked_in(const std::string& text) {
    std::vector<std::string> names;
    for (auto& [name, value] : secrets())
      if (!value.empty() && text.find(value) != std::string::npos) names.push_back(name);
    return names;
  }

  static inline std::filesystem::path scratch_;  ///< the suite's own files (mode 0755)
  static inline std::filesystem::path root_file_;
  static inline std::filesystem::path vars_file_;
  static inline std::string operator_key_;
  static inline std::string root_secret_;
  static inline std::string vars_secret_;
  static inline std::unique_ptr<loopback_listener> listener_;
  static inline std::string listener_error_;
};

}  // namespace caa::test
