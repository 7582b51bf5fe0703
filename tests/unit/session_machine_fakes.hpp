#pragma once

// The fakes of the session actor's state-machine tests: canned CLI lines, a fake PostgreSQL,
// event writer and registry, a recording subscriber, and the child processes of the test.

#include "actors/admission.hpp"
#include "actors/agent_io.hpp"
#include "actors/session.hpp"
#include "actors/system_config.hpp"
#include "config/errc.hpp"
#include "storage/postgres/statements.hpp"
#include "transport/http/error_catalog.hpp"

#include <gtest/gtest.h>

#include <caf/all.hpp>
#include <caf/scheduler/test_coordinator.hpp>

#include <boost/asio/post.hpp>

#include <rapidjson/document.h>

#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <numeric>
#include <set>
#include <sstream>
#include <thread>

namespace session_machine {

using namespace caa;
using namespace std::chrono_literals;

namespace fs = std::filesystem;

// -- canned CLI stdout lines --------------------------------------------------------------------

inline const std::string init_line =
    R"({"type":"system","subtype":"init","cwd":"/srv/ws/t/work","session_id":"cli-id",)"
    R"("tools":["Bash"],"model":"m","permissionMode":"default"})";
inline const std::string assistant_line =
    R"({"type":"assistant","message":{"model":"m","content":[{"type":"text","text":"hi"}],)"
    R"("usage":{}},"parent_tool_use_id":null,"uuid":"u1","session_id":"cli-id"})";
inline const std::string result_line =
    R"({"type":"result","subtype":"success","is_error":false,"total_cost_usd":0.01,)"
    R"("num_turns":1,"result":"ok","session_id":"cli-id","uuid":"r1","usage":{"input_tokens":1}})";
inline const std::string interrupted_result_line =
    R"({"type":"result","subtype":"error_during_execution","is_error":true,"total_cost_usd":0.01,)"
    R"("num_turns":1,"session_id":"cli-id","uuid":"r2"})";

// -- fakes --------------------------------------------------------------------------------------

/// What the fake PostgreSQL saw, and which statements it fails.
struct pg_log {
  std::vector<storage::db_query> queries;
  std::set<std::string> fail;  // statement names answered with `unavailable`

  /// The statuses written by `session_set_status`, in order.
  std::vector<std::string> statuses() const {
    std::vector<std::string> out;
    for (auto& q : queries)
      if (q.statement_name == storage::stmt::session_set_status && q.params.size() > 2 &&
          q.params[2])
        out.push_back(*q.params[2]);
    return out;
  }

  std::size_t count(std::string_view name) const {
    return static_cast<std::size_t>(std::count_if(
        queries.begin(), queries.end(), [&](auto& q) { return q.statement_name == name; }));
  }

  /// The parameters of the last query of statement `name` ("null" for a NULL).
  std::vector<std::string> params_of(std::string_view name) const {
    std::vector<std::string> out;
    for (auto& q : queries) {
      if (q.statement_name != name) continue;
      out.clear();
      for (auto& p : q.params) out.push_back(p ? *p : std::string{"null"});
    }
    return out;
  }
};

inline storage::pg_actor::behavior_type fake_pg(storage::pg_actor::pointer,
                                                std::shared_ptr<pg_log> log) {
  return {
      [=](storage::db_query& q) -> caf::result<storage::db_result> {
        log->queries.push_back(q);
        if (log->fail.count(q.statement_name) > 0) return make_error(errc::unavailable, "fake pg");
        return storage::db_result{};
      },
      [=](storage::db_batch& b) -> caf::result<std::vector<storage::db_result>> {
        for (auto& q : b.queries) {
          log->queries.push_back(q);
          if (log->fail.count(q.statement_name) > 0)
            return make_error(errc::unavailable, "fake pg");
        }
        return std::vector<storage::db_result>(b.queries.size());
      },
      [](caa::atom::ping) { return true; },
  };
}

/// What the fake event writer stored.
struct writer_log {
  std::vector<storage::session_event> events;
  int fail_next = 0;  // answer this many appends with `unavailable`
  uint64_t appends = 0;
};

inline storage::event_writer_actor::behavior_type fake_writer(storage::event_writer_actor::pointer,
                                                              std::shared_ptr<writer_log> log) {
  return {
      [=](caa::atom::append, std::vector<storage::session_event>& evs) -> caf::result<uint64_t> {
        ++log->appends;
        if (log->fail_next > 0) {
          --log->fail_next;
          return make_error(errc::unavailable, "fake writer");
        }
        uint64_t hi = 0;
        for (auto& e : evs) {
          hi = std::max(hi, e.seq);
          log->events.push_back(e);
        }
        return hi;
      },
      [=](caf::get_atom) {
        storage::event_writer_stats s;
        s.requests = log->appends;
        s.events = log->events.size();
        return s;
      },
  };
}

/// What the fake registry was told.
struct registry_log {
  std::vector<std::string> removed;
};

inline session_owner_actor::behavior_type fake_registry(session_owner_actor::pointer,
                                                        std::shared_ptr<registry_log> log) {
  return {
      [=](caa::atom::remove, const std::string& id) { log->removed.push_back(id); },
  };
}

/// A subscriber that records every delivery (the test coordinator runs on one thread).
class recording_sink : public event_sink {
 public:
  struct delivery {
    uint64_t seq;
    std::string name;
    std::string data;
  };

  bool deliver(uint64_t seq, std::string_view name, std::string_view data) override {
    if (!open_) return false;
    got.push_back({seq, std::string{name}, std::string{data}});
    return true;
  }
  bool open() const override { return open_; }
  void close() override {
    open_ = false;
    ++closes;
  }

  std::vector<uint64_t> seqs() const {
    std::vector<uint64_t> out;
    for (auto& d : got) out.push_back(d.seq);
    return out;
  }
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (auto& d : got) out.push_back(d.name);
    return out;
  }

  std::vector<delivery> got;
  int closes = 0;

 private:
  bool open_ = true;
};

/// The "reason" of a done event's data, or "code" of an error event's.
inline std::string field(const std::string& json, const char* key) {
  rapidjson::Document d;
  d.Parse(json.c_str());
  if (d.HasParseError() || !d.IsObject() || !d.HasMember(key) || !d[key].IsString()) return {};
  return d[key].GetString();
}

// -- child processes of this test ---------------------------------------------------------------

/// The direct children of this process and their states (R, S, Z, ...), from /proc.
inline std::map<pid_t, char> child_processes() {
  std::map<pid_t, char> out;
  auto me = ::getpid();
  std::error_code ec;
  for (auto& entry : fs::directory_iterator("/proc", ec)) {
    auto name = entry.path().filename().string();
    if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit)) continue;
    std::ifstream in(entry.path() / "stat");
    std::string stat;
    if (!std::getline(in, stat)) continue;
    auto close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(stat.substr(close + 1));
    char state = 0;
    pid_t ppid = 0;
    rest >> state >> ppid;
    if (ppid == me) out[static_cast<pid_t>(std::stoi(name))] = state;
  }
  return out;
}

/// Children that are still running (not zombies).
inline std::size_t live_children() {
  std::size_t n = 0;
  for (auto& [pid, state] : child_processes())
    if (state != 'Z' && state != 'X') ++n;
  return n;
}

/// Waits (wall clock, bounded) until `pred` holds; SIGKILL delivery is asynchronous.
template <class Pred>
inline bool eventually(Pred pred, std::chrono::milliseconds limit = 5s) {
  auto until = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

}  // namespace session_machine
