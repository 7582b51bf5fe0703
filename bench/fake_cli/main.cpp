// fake_cli: a stand-in for the Claude Code CLI that costs almost nothing, so that a benchmark
// measures the service (or a baseline) and not the agent. It speaks the stream-json of
// CLI-PROTOCOL.md: `initialize`, user messages, `interrupt`, `end_session` and the other
// control requests the service sends (answered with success), on stdin; `system/init`, text
// events, `result` and control responses on stdout. Flags it does not need are ignored.
//
// Per turn it writes `events` text events of about `bytes` bytes at `rate` events/s, then a
// `result`. The text of each event starts with `t=<19 digits>;`: the CLOCK_MONOTONIC time in ns
// taken just before the write(2), so a client on the same machine computes the added latency.
//
// Settings, from the environment, then from `key=value` words anywhere in the prompt (the
// service forwards only an allow-list of variables to its CLI; the prompt always arrives):
//   FAKE_CLI_EVENTS         events=N          text events per turn (default 10)
//   FAKE_CLI_EVENT_BYTES    bytes=N           size of one event line (default 200)
//   FAKE_CLI_RATE           rate=N            events per second, 0 = as fast as possible (0)
//   FAKE_CLI_INIT_DELAY_MS  init_delay_ms=N   start-up delay before stdin is read (0)
// e.g. the prompt "bench events=100 bytes=200 rate=0".
//
// Modes: streaming input (`--input-format stream-json`, what the service and the SDKs use);
// `-p/--print PROMPT` without it runs one turn and exits (what per-request proxies use);
// `--include-partial-messages` makes the events `stream_event` text deltas; `-v/--version`.

#include "bench/fake_cli/turn.hpp"
#include "bench/fake_cli/wire.hpp"

#include <rapidjson/document.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <deque>
#include <set>
#include <string>
#include <thread>

#include <poll.h>
#include <signal.h>
#include <unistd.h>

namespace {

using namespace bench::fake;

struct options {
  std::string session_id;
  std::string prompt;  ///< the positional prompt of `--print` mode
  bool stream_input = false;
  bool partial = false;
  bool version = false;
};

/// Flags of the real CLI that take a value as the next token (two-token form).
bool takes_value(std::string_view flag) {
  static const std::set<std::string_view> with_value{"--output-format",
                                                     "--input-format",
                                                     "--model",
                                                     "--fallback-model",
                                                     "--session-id",
                                                     "--resume",
                                                     "--system-prompt",
                                                     "--system-prompt-file",
                                                     "--append-system-prompt",
                                                     "--permission-mode",
                                                     "--permission-prompt-tool",
                                                     "--allowedTools",
                                                     "--disallowedTools",
                                                     "--tools",
                                                     "--max-turns",
                                                     "--max-budget-usd",
                                                     "--add-dir",
                                                     "--plugin-dir",
                                                     "--json-schema",
                                                     "--mcp-config",
                                                     "--settings",
                                                     "--betas",
                                                     "--agents",
                                                     "--agent",
                                                     "--effort",
                                                     "--thinking",
                                                     "--max-thinking-tokens",
                                                     "--resume-session-at",
                                                     "--setting-sources",
                                                     "--task-budget"};
  return with_value.count(flag) > 0;
}

options parse_args(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    std::string_view next = i + 1 < argc ? argv[i + 1] : "";
    if (a == "-v" || a == "--version") {
      o.version = true;
    } else if (a == "--include-partial-messages") {
      o.partial = true;
    } else if (a == "--input-format") {
      o.stream_input = next == "stream-json";
    } else if ((a == "--session-id" || a == "--resume") && o.session_id.empty()) {
      o.session_id = next;
    } else if (a.starts_with("--session-id=")) {
      o.session_id = a.substr(13);
    } else if (a.starts_with("--resume=") && o.session_id.empty()) {
      o.session_id = a.substr(9);
    }
    if (takes_value(a)) {
      ++i;
    } else if (!a.starts_with("-")) {
      o.prompt = a;  // the last positional token
    }
  }
  if (o.session_id.empty()) o.session_id = make_uuid();
  return o;
}

/// The text of a user message's content: a string, or its text blocks joined.
std::string content_text(const rapidjson::Value& content) {
  if (content.IsString()) return content.GetString();
  std::string out;
  if (!content.IsArray()) return out;
  for (auto& block : content.GetArray())
    if (block.IsObject() && block.HasMember("text") && block["text"].IsString())
      out.append(block["text"].GetString()).append("\n");
  return out;
}

/// One session: the queue of user turns and the emitter.
class session {
 public:
  explicit session(const options& o)
      : base_(settings_from_env()), emitter_(o.session_id, o.partial) {
    // nop
  }

  /// Handles one stdin line; false on a fatal line (as the real CLI: exit 1).
  bool on_line(std::string_view line) {
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) return line.empty();
    rapidjson::Document doc;
    doc.Parse(line.data(), line.size());
    if (doc.HasParseError()) {
      std::fprintf(stderr, "Error parsing streaming input line: %.*s\n", int(line.size()),
                   line.data());
      return false;
    }
    if (!doc.IsObject() || !doc.HasMember("type") || !doc["type"].IsString()) return true;
    std::string_view type = doc["type"].GetString();
    if (type == "control_request")
      on_control(doc);
    else if (type == "user")
      on_user(doc);
    return true;  // control responses and unknown types are ignored
  }

  /// Starts the next queued turn when idle.
  void start_next() {
    if (emitter_.active() || queue_.empty()) return;
    auto [cfg, query] = queue_.front();
    queue_.pop_front();
    emitter_.start(cfg, query);
  }

  turn_emitter& emitter() { return emitter_; }
  bool idle() const { return !emitter_.active() && queue_.empty(); }
  void enqueue(const turn_settings& cfg) { queue_.push_back({cfg, true}); }
  const turn_settings& base() const { return base_; }

 private:
  void on_control(const rapidjson::Document& doc) {
    std::string id = doc.HasMember("request_id") && doc["request_id"].IsString()
                         ? doc["request_id"].GetString()
                         : "";
    const auto& req = doc.HasMember("request") ? doc["request"] : doc;
    std::string subtype = req.IsObject() && req.HasMember("subtype") && req["subtype"].IsString()
                              ? req["subtype"].GetString()
                              : "";
    if (subtype == "initialize") {
      write_line(control_success(id, initialize_payload()));
    } else if (subtype == "interrupt") {
      write_line(control_success(id, ""));
      emitter_.interrupt();
    } else if (subtype == "end_session") {
      write_line(control_success(id, ""));
      std::_Exit(0);
    } else if (subtype == "set_permission_mode" || subtype == "set_model" ||
               subtype == "set_max_thinking_tokens" || subtype == "stop_task") {
      write_line(control_success(id, ""));
    } else if (subtype == "mcp_status") {
      write_line(control_success(id, R"({"mcpServers":[]})"));
    } else {
      write_line(control_error(id, "Unsupported control request subtype: " + subtype));
    }
  }

  void on_user(const rapidjson::Document& doc) {
    std::string text;
    if (doc.HasMember("message") && doc["message"].IsObject() &&
        doc["message"].HasMember("content"))
      text = content_text(doc["message"]["content"]);
    bool query = !(doc.HasMember("shouldQuery") && doc["shouldQuery"].IsBool() &&
                   !doc["shouldQuery"].GetBool());
    queue_.push_back({settings_from_prompt(base_, text), query});
  }

  turn_settings base_;
  turn_emitter emitter_;
  std::deque<std::pair<turn_settings, bool>> queue_;
};

/// Waits for stdin until `deadline_ns` (-1: no deadline); true when stdin is readable.
bool wait_stdin(int64_t deadline_ns, bool stdin_open) {
  pollfd pfd{STDIN_FILENO, POLLIN, 0};
  timespec ts{};
  timespec* tsp = nullptr;
  if (deadline_ns >= 0) {
    auto left = std::max<int64_t>(0, deadline_ns - monotonic_ns());
    ts.tv_sec = left / 1'000'000'000;
    ts.tv_nsec = left % 1'000'000'000;
    tsp = &ts;
  }
  int rc = ppoll(&pfd, stdin_open ? 1 : 0, tsp, nullptr);
  return rc > 0 && stdin_open;
}

int run_streaming(session& s) {
  std::string buf;
  bool stdin_open = true;
  for (;;) {
    s.start_next();
    if (s.idle() && !stdin_open)
      return 0;  // EOF while idle: exit 0 (the running turn was finished first)
    int64_t deadline = s.emitter().active() ? s.emitter().next_due_ns() : -1;
    if (wait_stdin(deadline, stdin_open)) {
      char chunk[65536];
      auto n = ::read(STDIN_FILENO, chunk, sizeof(chunk));
      if (n <= 0 && !(n < 0 && errno == EINTR)) {
        stdin_open = false;
      } else if (n > 0) {
        buf.append(chunk, static_cast<size_t>(n));
        for (auto nl = buf.find('\n'); nl != std::string::npos; nl = buf.find('\n')) {
          if (!s.on_line(std::string_view{buf}.substr(0, nl))) return 1;
          buf.erase(0, nl + 1);
          s.start_next();
        }
      }
    }
    if (s.emitter().active()) s.emitter().emit_due(monotonic_ns(), 256);
  }
}

int run_print(session& s, const options& o) {
  s.enqueue(settings_from_prompt(s.base(), o.prompt));
  s.start_next();
  while (s.emitter().active()) {
    auto due = s.emitter().next_due_ns();
    auto left = due - monotonic_ns();
    if (left > 0) std::this_thread::sleep_for(std::chrono::nanoseconds{left});
    s.emitter().emit_due(monotonic_ns(), 256);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  ::signal(SIGPIPE, SIG_IGN);
  auto opts = parse_args(argc, argv);
  if (opts.version) {
    std::puts("2.1.197 (Claude Code, bench fake)");
    return 0;
  }
  session s{opts};
  auto delay = settings_from_prompt(s.base(), opts.prompt).init_delay_ms;
  if (delay > 0) std::this_thread::sleep_for(std::chrono::milliseconds{delay});
  if (!opts.stream_input) return run_print(s, opts);
  return run_streaming(s);
}
