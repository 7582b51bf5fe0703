#include "test_support.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <stdexcept>
#include <thread>

namespace scripted_model::testing {

namespace {

using clock = std::chrono::steady_clock;

std::vector<char*> c_strings(const std::vector<std::string>& v) {
  std::vector<char*> out;
  for (const auto& s : v) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

/// In the forked child: wire the pipes, change directory and exec. Only async-signal-safe calls.
[[noreturn]] void exec_child(const process_spec& spec, int in_read, int out_write, char** argv,
                             char** envp) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  const int err = spec.stderr_path.empty() ? open("/dev/null", O_WRONLY | O_CLOEXEC)
                                           : open(spec.stderr_path.c_str(),
                                                  O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (dup2(in_read, 0) < 0 || dup2(out_write, 1) < 0 || err < 0 || dup2(err, 2) < 0) _exit(126);
  if (!spec.cwd.empty() && chdir(spec.cwd.c_str()) != 0) _exit(126);
  execve(argv[0], argv, envp);
  _exit(127);
}

}  // namespace

temp_dir::temp_dir(std::string_view prefix) {
  auto pattern =
      (std::filesystem::temp_directory_path() / (std::string(prefix) + "XXXXXX")).string();
  if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed for " + pattern);
  path_ = pattern;
}

temp_dir::~temp_dir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

child_process::child_process(const process_spec& spec) {
  int in[2];
  int out[2];
  if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0)
    throw std::runtime_error("pipe2 failed");
  auto argv = c_strings(spec.argv);
  auto envp = c_strings(spec.env);
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) exec_child(spec, in[0], out[1], argv.data(), envp.data());
  close(in[0]);
  close(out[1]);
  in_ = in[1];
  out_ = out[0];
  signal(SIGPIPE, SIG_IGN);  // a dead child must not kill the test on write()
}

child_process::~child_process() {
  close_stdin();
  if (!status_) {
    kill(SIGKILL);
    wait(std::chrono::seconds(10));
  }
  if (out_ >= 0) close(out_);
}

bool child_process::write(std::string_view data) {
  while (!data.empty()) {
    const auto n = ::write(in_, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

void child_process::close_stdin() {
  if (in_ >= 0) close(in_);
  in_ = -1;
}

std::optional<std::string> child_process::read_line(std::chrono::milliseconds timeout) {
  const auto deadline = clock::now() + timeout;
  for (;;) {
    if (const auto nl = buffer_.find('\n'); nl != std::string::npos) {
      auto line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      return line;
    }
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now()).count();
    pollfd p{out_, POLLIN, 0};
    if (left <= 0 || poll(&p, 1, static_cast<int>(left)) <= 0) return std::nullopt;
    char chunk[65536];
    const auto n = read(out_, chunk, sizeof chunk);
    if (n <= 0) return std::nullopt;
    buffer_.append(chunk, static_cast<std::size_t>(n));
  }
}

std::optional<int> child_process::wait(std::chrono::milliseconds timeout) {
  const auto deadline = clock::now() + timeout;
  while (!status_) {
    int raw = 0;
    const auto r = waitpid(pid_, &raw, WNOHANG);
    if (r == pid_)
      status_ = WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + WTERMSIG(raw);
    else if (r < 0 || clock::now() >= deadline)
      return status_;
    else
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return status_;
}

void child_process::kill(int sig) {
  if (!status_ && pid_ > 0) ::kill(pid_, sig);
}

std::string scripted_model_path() {
  if (const char* p = std::getenv("SCRIPTED_MODEL_PATH"); p != nullptr && *p != '\0') return p;
  return (std::filesystem::read_symlink("/proc/self/exe").parent_path() / "scripted_model")
      .string();
}

scripted_model_process::scripted_model_process(std::vector<std::string> extra_args) {
  process_spec spec;
  spec.argv = {scripted_model_path(), "--port", "0"};
  spec.argv.insert(spec.argv.end(), extra_args.begin(), extra_args.end());
  spec.env = {"PATH=/usr/bin:/bin"};
  child_.emplace(spec);
  const auto line = child_->read_line(std::chrono::seconds(20));
  if (!line || line->rfind("LISTENING ", 0) != 0)
    throw std::runtime_error("scripted_model did not start: " + spec.argv[0]);
  port_ = static_cast<unsigned short>(std::stoi(line->substr(10)));
}

std::string scripted_model_process::base_url() const {
  return "http://127.0.0.1:" + std::to_string(port_);
}

http_result http_request(unsigned short port, std::string_view method, std::string_view target,
                         std::string_view body) {
  namespace net = boost::asio;
  namespace http = boost::beast::http;
  net::io_context ioc;
  boost::beast::tcp_stream stream{ioc};
  stream.expires_after(std::chrono::seconds(30));
  stream.connect(net::ip::tcp::endpoint{net::ip::make_address("127.0.0.1"), port});
  http::request<http::string_body> req{http::string_to_verb(method), target, 11};
  req.set(http::field::host, "127.0.0.1");
  req.set(http::field::content_type, "application/json");
  req.body() = std::string(body);
  req.prepare_payload();
  http::write(stream, req);
  boost::beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(1ULL << 30);
  http::read(stream, buffer, parser);
  boost::beast::error_code ec;
  stream.socket().shutdown(net::ip::tcp::socket::shutdown_both, ec);
  return {parser.get().result_int(), std::move(parser.get().body())};
}

}  // namespace scripted_model::testing
