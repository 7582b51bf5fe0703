#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

/// Helpers for tests that run processes: the scripted model server and the real CLI.
namespace scripted_model::testing {

/// A fresh directory under the system temp dir, removed with everything in it on destruction.
class temp_dir {
 public:
  /// Creates `<tmp>/<prefix>XXXXXX`; throws on failure.
  explicit temp_dir(std::string_view prefix);
  ~temp_dir();
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  /// The directory.
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

/// How to start a child process.
struct process_spec {
  /// argv[0] is the executable path.
  std::vector<std::string> argv;
  /// The complete environment, `NAME=value` each (nothing is inherited).
  std::vector<std::string> env;
  /// Working directory (empty: inherit).
  std::string cwd;
  /// File for stderr (empty: /dev/null).
  std::string stderr_path;
};

/// A child process with pipes on stdin and stdout. It gets SIGKILL if the test dies
/// (PR_SET_PDEATHSIG) and is killed and reaped by the destructor if still running.
class child_process {
 public:
  /// Forks and execs; throws std::runtime_error on failure.
  explicit child_process(const process_spec& spec);
  ~child_process();
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  /// Writes all of `data` to stdin; false if the pipe is closed.
  bool write(std::string_view data);
  /// Closes stdin (EOF for the child).
  void close_stdin();
  /// The next stdout line without its newline; nullopt on EOF or after `timeout`.
  std::optional<std::string> read_line(std::chrono::milliseconds timeout);
  /// Waits for exit: the exit code, or 128+signal; nullopt after `timeout`.
  std::optional<int> wait(std::chrono::milliseconds timeout);
  /// Sends `sig` if the child is still running.
  void kill(int sig);

 private:
  pid_t pid_ = -1;
  int in_ = -1;
  int out_ = -1;
  std::string buffer_;
  std::optional<int> status_;
};

/// A running scripted_model on a free loopback port.
class scripted_model_process {
 public:
  /// Starts the binary (env SCRIPTED_MODEL_PATH, else `scripted_model` next to the test
  /// binary) with `extra_args` and waits for `LISTENING <port>`; throws on failure.
  explicit scripted_model_process(std::vector<std::string> extra_args = {});

  /// The port it listens on.
  unsigned short port() const { return port_; }
  /// `http://127.0.0.1:<port>`.
  std::string base_url() const;

 private:
  std::optional<child_process> child_;
  unsigned short port_ = 0;
};

/// An HTTP response as seen by a test.
struct http_result {
  /// Status code.
  unsigned status = 0;
  /// Body.
  std::string body;
};

/// A blocking HTTP/1.1 request to 127.0.0.1:`port`; throws on connection errors.
http_result http_request(unsigned short port, std::string_view method, std::string_view target,
                         std::string_view body = {});

/// The path of the scripted_model binary the tests use.
std::string scripted_model_path();

}  // namespace scripted_model::testing
