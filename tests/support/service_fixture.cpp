#include "tests/support/service_fixture.hpp"

#include "tests/support/pg_fixture.hpp"

#include <rapidjson/document.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <limits>
#include <mutex>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <stdexcept>

namespace caa::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;

// -- tcp_proxy ----------------------------------------------------------------------------------

struct tcp_proxy::impl {
  asio::io_context io;
  tcp::acceptor acceptor{io};
  uint16_t target = 0;
  std::atomic<bool> down{false};
  std::mutex mtx;
  std::set<std::shared_ptr<tcp::socket>> open;
  std::thread thread;

  void accept() {
    acceptor.async_accept([this](boost::system::error_code ec, tcp::socket s) {
      if (ec) return;
      auto client = std::make_shared<tcp::socket>(std::move(s));
      if (down) {
        client->close();
      } else {
        auto server = std::make_shared<tcp::socket>(io);
        boost::system::error_code cec;
        server->connect(tcp::endpoint{asio::ip::make_address("127.0.0.1"), target}, cec);
        if (cec) {
          client->close();
        } else {
          {
            std::lock_guard<std::mutex> g{mtx};
            open.insert(client);
            open.insert(server);
          }
          pump(client, server);
          pump(server, client);
        }
      }
      accept();
    });
  }

  void pump(std::shared_ptr<tcp::socket> from, std::shared_ptr<tcp::socket> to) {
    auto buf = std::make_shared<std::array<char, 16384>>();
    from->async_read_some(asio::buffer(*buf), [this, from, to, buf](auto ec, std::size_t n) {
      if (ec) {
        boost::system::error_code ig;
        to->shutdown(tcp::socket::shutdown_send, ig);
        return;
      }
      asio::async_write(*to, asio::buffer(buf->data(), n), [this, from, to, buf](auto wec, auto) {
        if (!wec) pump(from, to);
      });
    });
  }
};

tcp_proxy::tcp_proxy(uint16_t target_port) : impl_(std::make_unique<impl>()) {
  impl_->target = target_port;
  tcp::endpoint ep{asio::ip::make_address("127.0.0.1"), 0};
  impl_->acceptor.open(ep.protocol());
  impl_->acceptor.set_option(tcp::acceptor::reuse_address(true));
  impl_->acceptor.bind(ep);
  impl_->acceptor.listen();
  port_ = impl_->acceptor.local_endpoint().port();
  impl_->accept();
  impl_->thread = std::thread{[this] { impl_->io.run(); }};
}

tcp_proxy::~tcp_proxy() {
  impl_->io.stop();
  impl_->thread.join();
}

void tcp_proxy::set_down(bool down) {
  impl_->down = down;
  if (!down) return;
  asio::post(impl_->io, [this] {
    std::lock_guard<std::mutex> g{impl_->mtx};
    for (auto& s : impl_->open) {
      boost::system::error_code ec;
      s->shutdown(tcp::socket::shutdown_both, ec);
      s->close(ec);
    }
    impl_->open.clear();
  });
}

// -- service_process ----------------------------------------------------------------------------

namespace {

/// Removes `dir` when this test process exits, after every fixture has stopped its service (a
/// child forked from the process and exiting through exit() removes nothing).
void removed_at_exit(const std::string& dir) {
  struct registry {
    pid_t owner = getpid();
    std::mutex mutex;
    std::vector<std::string> dirs;
    ~registry() {
      if (getpid() != owner) return;
      std::error_code ec;
      for (const auto& d : dirs) std::filesystem::remove_all(d, ec);
    }
  };
  static registry dirs;
  std::lock_guard lock{dirs.mutex};
  dirs.dirs.push_back(dir);
}

std::string read_file(const std::string& path) {
  std::ifstream in{path};
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string bin_dir() {
  const char* dir = std::getenv("CAA_BIN_DIR");
  return dir ? dir : "build/bin";
}

/// Starts the service binary with exactly `env` (plus defaults), stderr to `log_fd`.
pid_t spawn_service(std::map<std::string, std::string> env, int log_fd) {
  env.try_emplace("PATH", "/usr/local/bin:/usr/bin:/bin");
  env.try_emplace("API_PORT", "0");
  env.try_emplace("API_HOST", "127.0.0.1");
  std::vector<std::string> env_strings;
  for (auto& [k, v] : env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  auto path = bin_dir() + "/claude-agent-api";
  std::vector<char*> argv{path.data(), nullptr};
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(1);
    int devnull = open("/dev/null", O_RDWR);
    dup2(devnull, 0);
    dup2(devnull, 1);
    dup2(log_fd, 2);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    execve(path.c_str(), argv.data(), envp.data());
    _exit(127);
  }
  close(log_fd);
  return pid;
}

}  // namespace

std::optional<int> service_exit_status(std::map<std::string, std::string> env,
                                       std::chrono::seconds limit) {
  char tmpl[] = "/tmp/caa-service-log-XXXXXX";
  int log_fd = mkstemp(tmpl);
  if (log_fd < 0) throw std::runtime_error("mkstemp failed");
  ::unlink(tmpl);
  pid_t pid = spawn_service(std::move(env), log_fd);
  int status = 0;
  if (eventually([&] { return waitpid(pid, &status, WNOHANG) == pid; }, limit))
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  ::kill(pid, SIGKILL);  // a hang: end it, reap it, report no exit
  ::waitpid(pid, &status, 0);
  return std::nullopt;
}

service_process::service_process(std::map<std::string, std::string> env) {
  char tmpl[] = "/tmp/caa-service-log-XXXXXX";
  int log_fd = mkstemp(tmpl);
  if (log_fd < 0) throw std::runtime_error("mkstemp failed");
  log_path_ = tmpl;
  pid_ = spawn_service(std::move(env), log_fd);
  static const std::regex listening{R"re("msg":"listening".*"port":([0-9]+))re"};
  bool up = eventually(
      [&] {
        std::smatch m;
        auto text = log();
        if (std::regex_search(text, m, listening)) {
          port_ = static_cast<uint16_t>(std::stoi(m[1]));
          return true;
        }
        int status = 0;
        return waitpid(pid_, &status, WNOHANG) == pid_;
      },
      std::chrono::seconds{90});
  if (!up || port_ == 0) throw std::runtime_error("the service did not start; log:\n" + log());
}

service_process::~service_process() {
  if (pid_ > 0) terminate(std::chrono::seconds{15});
  if (pid_ > 0) kill_hard();
  unlink(log_path_.c_str());
}

std::string service_process::log() const {
  return read_file(log_path_);
}

int service_process::terminate(std::chrono::seconds limit) {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  int status = 0;
  bool done = eventually([&] { return waitpid(pid_, &status, WNOHANG) == pid_; }, limit);
  if (!done) return -1;
  pid_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void service_process::kill_hard() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

std::string random_key() {
  static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::random_device rd;
  std::string key = "caa_";
  for (int i = 0; i < 43; ++i) key += alphabet[rd() % 64];
  return key;
}

std::string create_key(uint16_t port, const std::map<std::string, std::string>& auth,
                       const std::string& tenant, const std::string& scopes, std::string* id) {
  auto r = http_call(port, "POST", "/api/v1/keys", auth,
                     R"({"tenant":")" + tenant + R"(","scopes":)" + scopes + R"(,"name":"t"})");
  rapidjson::Document d;
  d.Parse(r.body.c_str());
  if (r.status != 201 || !d.IsObject() || !d.HasMember("key") || !d["key"].IsString()) return {};
  if (id != nullptr && d.HasMember("id") && d["id"].IsString()) *id = d["id"].GetString();
  return d["key"].GetString();
}

uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  socklen_t len = sizeof(a);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

std::map<std::string, std::string> base_service_env(const std::string& admin_key) {
  std::map<std::string, std::string> env;
  auto* db = shared_scratch_database();
  if (db == nullptr) throw std::runtime_error("DATABASE_URL is not set");
  env["DATABASE_URL"] = db->url();
  if (auto redis = env_redis_url()) env["REDIS_URL"] = *redis;
  if (const char* cli = std::getenv("CLAUDE_CLI_PATH")) env["CLAUDE_CLI_PATH"] = cli;
  char tmpl[] = "/tmp/caa-workspaces-XXXXXX";
  if (mkdtemp(tmpl) != nullptr) {
    env["WORKSPACE_ROOT"] = tmpl;
    removed_at_exit(tmpl);
  }
  env["API_KEY"] = admin_key;
  env["LOG_LEVEL"] = "debug";
  return env;
}

}  // namespace caa::test
