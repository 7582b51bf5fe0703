#include "tests/support/service_fixture.hpp"

#include "tests/support/pg_fixture.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

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

namespace {

/// Connects to 127.0.0.1:`port` with deadline `guard` and writes one request (throws on error).
void send_request(beast::tcp_stream& stream, std::chrono::seconds guard, uint16_t port,
                  const std::string& method, const std::string& target,
                  const std::map<std::string, std::string>& headers, const std::string& body) {
  stream.expires_after(guard);
  stream.connect(tcp::endpoint{asio::ip::make_address("127.0.0.1"), port});
  bhttp::request<bhttp::string_body> req{bhttp::string_to_verb(method), target, 11};
  req.set(bhttp::field::host, "127.0.0.1");
  for (auto& [k, v] : headers)
    req.set(k, v);
  if (!body.empty() || method == "POST") {
    req.body() = body;
    if (headers.count("Content-Type") == 0)
      req.set(bhttp::field::content_type, "application/json");
    req.prepare_payload();
  }
  bhttp::write(stream, req);
}

}  // namespace

std::string http_result::header(const std::string& name) const {
  auto it = headers.find(name);
  return it == headers.end() ? std::string{} : it->second;
}

http_result http_call(uint16_t port, const std::string& method, const std::string& target,
                      const std::map<std::string, std::string>& headers, const std::string& body) {
  http_result out;
  try {
    asio::io_context io;
    beast::tcp_stream stream{io};
    send_request(stream, std::chrono::seconds{30}, port, method, target, headers, body);
    beast::flat_buffer buf;
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(64 << 20);
    bhttp::read(stream, buf, parser);
    auto& res = parser.get();
    out.status = res.result_int();
    for (auto& f : res) {
      std::string name{f.name_string()};
      for (auto& c : name)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      out.headers[name] = std::string{f.value()};
    }
    out.body = res.body();
  } catch (const std::exception&) {
    out.status = 0;
  }
  return out;
}

std::string raw_exchange(uint16_t port, const std::string& bytes, std::chrono::milliseconds wait) {
  asio::io_context io;
  tcp::socket sock{io};
  boost::system::error_code ec;
  sock.connect(tcp::endpoint{asio::ip::make_address("127.0.0.1"), port}, ec);
  if (ec)
    return {};
  asio::write(sock, asio::buffer(bytes), ec);
  std::string out;
  auto deadline = std::chrono::steady_clock::now() + wait;
  sock.non_blocking(true);
  char buf[4096];
  while (std::chrono::steady_clock::now() < deadline) {
    auto n = sock.read_some(asio::buffer(buf), ec);
    if (ec == asio::error::would_block) {
      std::this_thread::sleep_for(std::chrono::milliseconds{10});
      continue;
    }
    if (ec)
      break;
    out.append(buf, n);
  }
  return out;
}

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
      if (ec)
        return;
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
        if (!wec)
          pump(from, to);
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
  if (!down)
    return;
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

}  // namespace

service_process::service_process(std::map<std::string, std::string> env) {
  env.try_emplace("PATH", "/usr/local/bin:/usr/bin:/bin");
  env.try_emplace("API_PORT", "0");
  env.try_emplace("API_HOST", "127.0.0.1");
  char tmpl[] = "/tmp/caa-service-log-XXXXXX";
  int log_fd = mkstemp(tmpl);
  if (log_fd < 0)
    throw std::runtime_error("mkstemp failed");
  log_path_ = tmpl;
  std::vector<std::string> env_strings;
  for (auto& [k, v] : env)
    env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& s : env_strings)
    envp.push_back(s.data());
  envp.push_back(nullptr);
  auto path = bin_dir() + "/claude-agent-api";
  std::vector<char*> argv{path.data(), nullptr};
  pid_t parent = getpid();
  pid_ = fork();
  if (pid_ == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
      _exit(1);
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
  if (!up || port_ == 0)
    throw std::runtime_error("the service did not start; log:\n" + log());
}

service_process::~service_process() {
  if (pid_ > 0)
    terminate(std::chrono::seconds{15});
  if (pid_ > 0)
    kill_hard();
  unlink(log_path_.c_str());
}

std::string service_process::log() const {
  return read_file(log_path_);
}

int service_process::terminate(std::chrono::seconds limit) {
  if (pid_ <= 0)
    return -1;
  ::kill(pid_, SIGTERM);
  int status = 0;
  bool done = eventually([&] { return waitpid(pid_, &status, WNOHANG) == pid_; }, limit);
  if (!done)
    return -1;
  pid_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void service_process::kill_hard() {
  if (pid_ <= 0)
    return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

std::string random_key() {
  static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::random_device rd;
  std::string key = "caa_";
  for (int i = 0; i < 43; ++i)
    key += alphabet[rd() % 64];
  return key;
}

std::map<std::string, std::string> base_service_env(const std::string& admin_key) {
  std::map<std::string, std::string> env;
  auto* db = shared_scratch_database();
  if (db == nullptr)
    throw std::runtime_error("DATABASE_URL is not set");
  env["DATABASE_URL"] = db->url();
  if (auto redis = env_redis_url())
    env["REDIS_URL"] = *redis;
  if (const char* cli = std::getenv("CLAUDE_CLI_PATH"))
    env["CLAUDE_CLI_PATH"] = cli;
  char tmpl[] = "/tmp/caa-workspaces-XXXXXX";
  if (mkdtemp(tmpl) != nullptr)
    env["WORKSPACE_ROOT"] = tmpl;
  env["API_KEY"] = admin_key;
  env["LOG_LEVEL"] = "debug";
  return env;
}

// -- sse_call -----------------------------------------------------------------------------------

std::string sse_result::header(const std::string& name) const {
  auto it = headers.find(name);
  return it == headers.end() ? std::string{} : it->second;
}

namespace {

/// Moves every complete event ("...\n\n") at the front of `pending` into `out`; returns how many
/// it added.
std::size_t take_events(std::string& pending, std::vector<sse_event>& out) {
  std::size_t added = 0;
  for (auto end = pending.find("\n\n"); end != std::string::npos; end = pending.find("\n\n")) {
    std::istringstream block{pending.substr(0, end)};
    pending.erase(0, end + 2);
    sse_event ev;
    bool data = false;
    for (std::string line; std::getline(block, line);) {
      if (line.empty() || line[0] == ':')
        continue;
      auto colon = line.find(':');
      auto field = line.substr(0, colon);
      auto value = colon == std::string::npos ? std::string{} : line.substr(colon + 1);
      if (!value.empty() && value[0] == ' ')
        value.erase(0, 1);
      if (field == "id")
        ev.id = value;
      else if (field == "event")
        ev.event = value;
      else if (field == "data") {
        ev.data += (data ? "\n" : "") + value;
        data = true;
      }
    }
    if (!data)
      continue;  // a comment block (keep-alive)
    if (ev.event.empty())
      ev.event = "message";
    out.push_back(std::move(ev));
    ++added;
  }
  return added;
}

}  // namespace

sse_result sse_call(uint16_t port, const std::string& method, const std::string& target,
                    const std::map<std::string, std::string>& headers, const std::string& body,
                    sse_stop stop, std::chrono::seconds guard) {
  sse_result out;
  try {
    asio::io_context io;
    beast::tcp_stream stream{io};
    send_request(stream, guard, port, method, target, headers, body);
    beast::flat_buffer buf;
    bhttp::response_parser<bhttp::buffer_body> parser;
    parser.body_limit(std::numeric_limits<std::uint64_t>::max());
    bhttp::read_header(stream, buf, parser);
    out.status = parser.get().result_int();
    for (auto& f : parser.get()) {
      std::string name{f.name_string()};
      for (auto& c : name)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      out.headers[name] = std::string{f.value()};
    }
    std::string pending;
    char chunk[8192];
    while (!parser.is_done()) {
      parser.get().body().data = chunk;
      parser.get().body().size = sizeof(chunk);
      boost::system::error_code ec;
      bhttp::read_some(stream, buf, parser, ec);  // returns as soon as bytes arrive
      if (ec && ec != bhttp::error::need_buffer)
        return out;  // guard, reset, or the server dropped the connection
      auto n = sizeof(chunk) - parser.get().body().size;
      out.body.append(chunk, n);
      pending.append(chunk, n);
      auto first = out.events.size();
      if (take_events(pending, out.events) == 0 || !stop)
        continue;
      for (auto i = first; i < out.events.size(); ++i)
        if (stop(out.events[i])) {
          out.events.resize(i + 1);
          return out;
        }
    }
    out.ended = true;
  } catch (const std::exception&) {
  }
  return out;
}

}  // namespace caa::test
