#pragma once

// The fakes of the session actor's state-machine tests: canned CLI lines, a fake PostgreSQL,
// event writer and registry, a recording subscriber, and a fake CLI launcher.

#include "actors/admission.hpp"
#include "actors/cli_launcher.hpp"
#include "actors/session.hpp"
#include "actors/system_config.hpp"
#include "config/errc.hpp"
#include "storage/postgres/statements.hpp"
#include "transport/http/error_catalog.hpp"

#include <gtest/gtest.h>

#include <caf/all.hpp>
#include <caf/scheduler/test_coordinator.hpp>

#include <rapidjson/document.h>

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
    int batch = 0;  ///< the cork it came in (1, 2, ...); 0: outside any
  };

  bool deliver(uint64_t seq, std::string_view name, std::string_view data) override {
    if (!open_) return false;
    got.push_back({seq, std::string{name}, std::string{data}, corked_ ? corks : 0});
    return true;
  }
  bool open() const override { return open_; }
  void cork() override {
    EXPECT_FALSE(corked_) << "corks do not nest";
    corked_ = true;
    ++corks;
  }
  void uncork() override {
    EXPECT_TRUE(corked_);
    corked_ = false;
  }
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
  int corks = 0;

 private:
  bool open_ = true;
  bool corked_ = false;
};

/// The "reason" of a done event's data, or "code" of an error event's.
inline std::string field(const std::string& json, const char* key) {
  rapidjson::Document d;
  d.Parse(json.c_str());
  if (d.HasParseError() || !d.IsObject() || !d.HasMember(key) || !d[key].IsString()) return {};
  return d[key].GetString();
}

// -- the fake CLI -------------------------------------------------------------------------------

/// What the fake CLIs of one test did: every launch, what the session wrote to each, and how
/// each ended. Shared by the launcher and its processes (a process may outlive the launcher).
struct cli_log {
  /// One launched CLI.
  struct cli {
    claude::query_options opts;           ///< the options it was launched with
    std::vector<std::string> lines;       ///< every line written to its stdin, in order
    bool killed = false;                  ///< `kill()` was called, or the handle was dropped
    bool stopped = false;                 ///< a graceful `stop()` was asked
    claude::process_callbacks callbacks;  ///< kept, never called: the test injects lines itself
    bool reaped = false;                  ///< the test reaped it (`cli_log::reap`)
    std::vector<std::function<void()>> reaped_hooks;  ///< `when_reaped` callbacks not run yet
  };
  std::vector<std::shared_ptr<cli>> clis;
  /// How many launches fail (with `errc::internal`) before launches succeed again.
  int fail_next = 0;
  /// Starts wait in `held` until the test ends them (calls one), as a launch thread would.
  bool hold_starts = false;
  /// A start creates its CLI when it ends, as the real launcher does (a process runs before it is
  /// served, and a discarded one must be killed); else the CLI comes only when served.
  bool start_processes = false;
  std::vector<std::function<void()>> held;

  /// Reaps CLI `i` (a killed one, in a test, as the I/O threads would): runs its `when_reaped`
  /// callbacks.
  void reap(std::size_t i) {
    auto& c = *clis.at(i);
    c.reaped = true;
    for (auto& f : std::exchange(c.reaped_hooks, {})) f();
  }

  /// Reaps every killed CLI not reaped yet.
  void reap_killed() {
    for (std::size_t i = 0; i < clis.size(); ++i)
      if (clis[i]->killed && !clis[i]->reaped) reap(i);
  }

  /// The CLIs not killed yet: a stopped one still runs until it exits or is killed, as a real
  /// process does.
  std::size_t live() const {
    return static_cast<std::size_t>(
        std::count_if(clis.begin(), clis.end(), [](auto& c) { return !c->killed; }));
  }
};

/// A CLI that records what the session does to it. Writing to a killed CLI fails, as a closed
/// pipe does; dropping the handle kills it, as `~agent_process` does.
class fake_cli final : public cli_process {
 public:
  explicit fake_cli(std::shared_ptr<cli_log::cli> rec) : rec_(std::move(rec)) {}
  ~fake_cli() override { rec_->killed = true; }
  fake_cli(const fake_cli&) = delete;
  fake_cli& operator=(const fake_cli&) = delete;

  pid_t pid() const noexcept override { return 4242; }
  caf::error write_line(std::string json) override {
    if (rec_->killed) return make_error(errc::internal, "stdin closed");
    rec_->lines.push_back(std::move(json));
    return {};
  }
  void stop(std::chrono::milliseconds, std::chrono::milliseconds) override { rec_->stopped = true; }
  void kill() override { rec_->killed = true; }
  void when_reaped(std::function<void()> f) override {
    if (rec_->reaped)
      f();
    else
      rec_->reaped_hooks.push_back(std::move(f));
  }

 private:
  std::shared_ptr<cli_log::cli> rec_;
};

/// A fake CLI started and not served yet (`cli_log::start_processes`).
class fake_started final : public started_cli {
 public:
  explicit fake_started(std::shared_ptr<cli_log::cli> rec) : rec_(std::move(rec)) {}
  ~fake_started() override {
    if (!used_) rec_->killed = true;  // destroyed unserved: killed, as the real one is
  }
  fake_started(const fake_started&) = delete;
  fake_started& operator=(const fake_started&) = delete;

  caf::expected<std::shared_ptr<cli_process>> serve(claude::process_callbacks cb) override {
    used_ = true;
    rec_->callbacks = std::move(cb);
    return std::shared_ptr<cli_process>{std::make_shared<fake_cli>(rec_)};
  }
  void discard(std::function<void()> gone) override {
    used_ = true;
    fake_cli cli{rec_};  // killed and dropped; `gone` waits for `cli_log::reap`
    cli.when_reaped(std::move(gone));
  }

 private:
  std::shared_ptr<cli_log::cli> rec_;
  bool used_ = false;
};

/// Launches `fake_cli`s and records them in a `cli_log`.
class fake_launcher final : public cli_launcher {
 public:
  explicit fake_launcher(std::shared_ptr<cli_log> log) : log_(std::move(log)) {}

  caf::expected<std::shared_ptr<cli_process>> launch(const claude::query_options& opts,
                                                     const claude::driver_config&,
                                                     claude::process_callbacks cb) override {
    auto rec = record(opts);
    if (!rec) return make_error(errc::internal, "cannot fork");
    rec->callbacks = std::move(cb);
    return std::shared_ptr<cli_process>{std::make_shared<fake_cli>(std::move(rec))};
  }

  void start(const claude::query_options& opts, const claude::driver_config& driver,
             const std::function<void(cli_start_result)>& done) override {
    auto end = [this, opts, driver, done] {
      if (!log_->start_processes) {
        cli_launcher::start(opts, driver, done);
        return;
      }
      auto rec = record(opts);
      if (!rec) {
        done({nullptr, make_error(errc::internal, "cannot fork")});
        return;
      }
      done({std::make_unique<fake_started>(std::move(rec)), caf::error{}});
    };
    if (log_->hold_starts)
      log_->held.emplace_back(std::move(end));
    else
      end();
  }

 private:
  /// A new CLI of the log, or null when this launch is to fail (`cli_log::fail_next`).
  std::shared_ptr<cli_log::cli> record(const claude::query_options& opts) {
    if (log_->fail_next > 0) {
      --log_->fail_next;
      return nullptr;
    }
    auto rec = std::make_shared<cli_log::cli>();
    rec->opts = opts;
    log_->clis.push_back(rec);
    return rec;
  }

  std::shared_ptr<cli_log> log_;
};

/// Waits (wall clock, bounded) until `pred` holds (for work on other threads).
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
