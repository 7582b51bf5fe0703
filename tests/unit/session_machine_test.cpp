// The session actor's state machine, driven deterministically by CAF's test coordinator
// (issue 3; RELIABILITY.md T16): runs, interrupts, subscriptions, process exits and results in
// every order, with fake PostgreSQL, a fake event writer and a recording subscriber.
//
// Determinism: the session spawns a real (fake) CLI, `sleep`, because `spawn_process` needs a
// live `agent_process`. The single thread of the `agent_io` is parked behind a gate for the
// whole test, so no pipe or pidfd callback can ever reach the actor from another thread: the
// test injects the CLI's stdout lines and exits itself as the INTERNAL `(line, gen, text)` and
// `(exited, gen, code, stderr)` messages, in exactly the order it wants. Killing a process
// (SIGKILL through its pidfd) is synchronous, so "the session killed its CLI" is observable
// through /proc. At teardown every actor is killed, the gate opens, and the fixture checks that
// no child process of the test survives.

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

using namespace caa;
using namespace std::chrono_literals;

namespace {

namespace fs = std::filesystem;

// -- canned CLI stdout lines --------------------------------------------------------------------

const std::string init_line =
    R"({"type":"system","subtype":"init","cwd":"/srv/ws/t/work","session_id":"cli-id",)"
    R"("tools":["Bash"],"model":"m","permissionMode":"default"})";
const std::string assistant_line =
    R"({"type":"assistant","message":{"model":"m","content":[{"type":"text","text":"hi"}],)"
    R"("usage":{}},"parent_tool_use_id":null,"uuid":"u1","session_id":"cli-id"})";
const std::string result_line =
    R"({"type":"result","subtype":"success","is_error":false,"total_cost_usd":0.01,)"
    R"("num_turns":1,"result":"ok","session_id":"cli-id","uuid":"r1","usage":{"input_tokens":1}})";
const std::string interrupted_result_line =
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
};

storage::pg_actor::behavior_type fake_pg(storage::pg_actor::pointer, std::shared_ptr<pg_log> log) {
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

storage::event_writer_actor::behavior_type fake_writer(storage::event_writer_actor::pointer,
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

caf::behavior fake_registry(caf::event_based_actor*, std::shared_ptr<registry_log> log) {
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
std::string field(const std::string& json, const char* key) {
  rapidjson::Document d;
  d.Parse(json.c_str());
  if (d.HasParseError() || !d.IsObject() || !d.HasMember(key) || !d[key].IsString()) return {};
  return d[key].GetString();
}

// -- child processes of this test ---------------------------------------------------------------

/// The direct children of this process and their states (R, S, Z, ...), from /proc.
std::map<pid_t, char> child_processes() {
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
std::size_t live_children() {
  std::size_t n = 0;
  for (auto& [pid, state] : child_processes())
    if (state != 'Z' && state != 'X') ++n;
  return n;
}

/// Waits (wall clock, bounded) until `pred` holds; SIGKILL delivery is asynchronous.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds limit = 5s) {
  auto until = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

// -- the fixture --------------------------------------------------------------------------------

class test_config : public system_config {
 public:
  test_config() : system_config(settings{}) {
    set("scheduler.policy", caf::atom("testing"));
    set("middleman.network-backend", caf::atom("testing"));
  }
};

template <class T>
using answer = std::optional<caf::expected<T>>;

errc code_of(const caf::error& e) {
  return errc_of(e);
}

/// Whether an answer arrived and is a success.
template <class T>
bool ok(const answer<T>& x) {
  return x.has_value() && static_cast<bool>(*x);
}

class session_machine_test : public ::testing::Test {
 protected:
  session_machine_test()
      : sys(cfg),
        sched(dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler())),
        self(sys) {
    // Park the only agent I/O thread: no process callback runs until teardown.
    boost::asio::post(io.context(), [f = gate.get_future().share()] { f.wait(); });
    char tmpl[] = "/tmp/session-machine-XXXXXX";
    dir = ::mkdtemp(tmpl);
    cli = dir / "fake-claude";
    {
      std::ofstream out(cli);
      out << "#!/bin/sh\nexec sleep 3600\n";
    }
    fs::permissions(cli, fs::perms::owner_all);
    pg = sys.spawn(fake_pg, pgl);
    writer = sys.spawn(fake_writer, wl);
    registry = sys.spawn(fake_registry, rl);
    admission = spawn_admission(sys, {budget, 10s});
    spawned = {caf::actor_cast<caf::actor>(pg), caf::actor_cast<caf::actor>(writer), registry,
               caf::actor_cast<caf::actor>(admission)};
  }

  ~session_machine_test() override {
    // The test coordinator runs nothing by itself: stop every actor and let the system end.
    // Sessions end through `remove` (it kills and drops their CLIs first).
    pgl->fail.clear();
    for (auto& s : sessions) caf::anon_send(s, caa::atom::remove_v);
    sched.run();
    for (auto& a : spawned) caf::anon_send_exit(a, caf::exit_reason::kill);
    sched.run();
    EXPECT_TRUE(eventually([] { return live_children() == 0; }))
        << "a CLI outlived its session actor";
    // Let the I/O thread reap the children (the session actors are gone: nobody listens).
    gate.set_value();
    bool reaped = eventually([] { return child_processes().empty(); });
    if (!reaped) {
      for (auto& [pid, state] : child_processes()) ::kill(pid, SIGKILL);
      ADD_FAILURE() << "child processes were not reaped";
    }
    std::error_code ec;
    fs::remove_all(dir, ec);
  }

  session_identity identity(std::string id = "00000000-0000-4000-8000-000000000001") {
    session_identity who;
    who.id = std::move(id);
    who.tenant_id = "00000000-0000-4000-8000-0000000000aa";
    return who;
  }

  session_deps deps() {
    session_deps d;
    d.pg = pg;
    d.writer = writer;
    d.admission = admission;
    d.io = &io;
    d.turn_timeout = 600s;
    d.idle_timeout = 300s;
    return d;
  }

  session_actor make_session(session_identity who, session_deps d) {
    auto s = spawn_session(sys, std::move(who), std::move(d), registry);
    spawned.push_back(caf::actor_cast<caf::actor>(s));
    sessions.push_back(s);
    sched.run();
    return s;
  }

  session_actor make_session() { return make_session(identity(), deps()); }

  turn_spec_ptr spec(std::string options_json = "{}") {
    auto t = std::make_shared<turn_spec>();
    t->prompt = "hello";
    t->options.cwd = dir.string();
    t->driver.cli_path = cli.string();
    t->driver.config_dir = dir.string();
    t->driver.home_dir = dir.string();
    t->driver.tmp_dir = dir.string();
    t->driver.use_bwrap = false;
    t->options_json = std::move(options_json);
    return t;
  }

  /// Collects the answer of `h` if one arrived (the scoped actor's mailbox is not empty).
  template <class T, class Handle>
  answer<T> collect(Handle& h) {
    if (self->mailbox().empty()) return std::nullopt;
    answer<T> out;
    h.receive([&](T x) { out = std::move(x); }, [&](caf::error& e) { out = std::move(e); });
    return out;
  }

  answer<turn_accepted> run(session_actor s, turn_spec_ptr t = nullptr) {
    auto h = self->request(s, caf::infinite, caa::atom::run_v, t ? t : spec());
    sched.run();
    return collect<turn_accepted>(h);
  }

  answer<bool> interrupt(session_actor s) {
    auto h = self->request(s, caf::infinite, caa::atom::interrupt_v);
    sched.run();
    return collect<bool>(h);
  }

  answer<bool> busy(session_actor s) {
    auto h = self->request(s, caf::infinite, caa::atom::busy_v);
    sched.run();
    return collect<bool>(h);
  }

  answer<uint64_t> subscribe(session_actor s, event_sink_ptr sink, uint64_t after) {
    auto h = self->request(s, caf::infinite, caa::atom::subscribe_v, std::move(sink), after);
    sched.run();
    return collect<uint64_t>(h);
  }

  answer<bool> remove(session_actor s) {
    auto h = self->request(s, caf::infinite, caa::atom::remove_v);
    sched.run();
    return collect<bool>(h);
  }

  admission_stats stats() {
    admission_stats out;
    auto h = self->request(admission, caf::infinite, caa::atom::stats_v);
    sched.run();
    h.receive([&](admission_stats x) { out = x; }, [](caf::error&) {});
    return out;
  }

  /// Injects one stdout line of process generation `gen`.
  void line(session_actor s, uint64_t gen, const std::string& text) {
    caf::anon_send(s, caa::atom::line_v, gen, text);
    sched.run();
  }

  /// Injects the end of process generation `gen`.
  void exited(session_actor s, uint64_t gen, int32_t code = 1) {
    caf::anon_send(s, caa::atom::exited_v, gen, code, std::string{"stderr tail"});
    sched.run();
  }

  void advance(caf::timespan d) {
    sched.advance_time(d);
    sched.run();
  }

  /// Names of the stored events, in order.
  std::vector<std::string> stored_names() const {
    std::vector<std::string> out;
    for (auto& e : wl->events) out.push_back(e.type);
    return out;
  }

  std::vector<uint64_t> stored_seqs() const {
    std::vector<uint64_t> out;
    for (auto& e : wl->events) out.push_back(e.seq);
    return out;
  }

  std::size_t stored_count(std::string_view name) const {
    return static_cast<std::size_t>(std::count_if(wl->events.begin(), wl->events.end(),
                                                  [&](auto& e) { return e.type == name; }));
  }

  /// The payload of the last stored event named `name`.
  std::string last_payload(std::string_view name) const {
    for (auto it = wl->events.rbegin(); it != wl->events.rend(); ++it)
      if (it->type == name) return it->payload_json;
    return {};
  }

  /// Runs a turn: accepted, then init, assistant and result lines of `gen`.
  void complete_turn(session_actor s, uint64_t gen) {
    line(s, gen, init_line);
    line(s, gen, assistant_line);
    line(s, gen, result_line);
  }

  // The agent I/O thread is declared first: it outlives the actor system.
  agent_io io{1};
  std::promise<void> gate;
  uint32_t budget = 4;
  test_config cfg;
  caf::actor_system sys;
  caf::scheduler::test_coordinator& sched;
  caf::scoped_actor self;
  fs::path dir;
  fs::path cli;
  std::shared_ptr<pg_log> pgl = std::make_shared<pg_log>();
  std::shared_ptr<writer_log> wl = std::make_shared<writer_log>();
  std::shared_ptr<registry_log> rl = std::make_shared<registry_log>();
  storage::pg_actor pg;
  storage::event_writer_actor writer;
  caf::actor registry;
  admission_actor admission;
  std::vector<caf::actor> spawned;
  std::vector<session_actor> sessions;
};

// Both evaluate their argument once (it is often a request).
#define ASSERT_ACCEPTED(expr)                                           \
  do {                                                                  \
    auto ans_ = (expr);                                                 \
    ASSERT_TRUE(ans_.has_value()) << "no answer";                       \
    ASSERT_TRUE(*ans_) << "refused: " << caf::to_string(ans_->error()); \
  } while (false)

#define EXPECT_REFUSED(expr, code)                \
  do {                                            \
    auto ans_ = (expr);                           \
    ASSERT_TRUE(ans_.has_value()) << "no answer"; \
    ASSERT_FALSE(*ans_) << "accepted";            \
    EXPECT_EQ(code_of(ans_->error()), code);      \
  } while (false)

}  // namespace

// -- runs ---------------------------------------------------------------------------------------

TEST_F(session_machine_test, a_run_is_accepted_as_turn_one_after_seq_zero) {
  auto s = make_session();
  auto a = run(s);
  ASSERT_ACCEPTED(a);
  EXPECT_EQ((*a)->turn, 1u);
  EXPECT_EQ((*a)->after_seq, 0u);
  EXPECT_EQ((*a)->session_id, identity().id);
  EXPECT_EQ(*busy(s), true);
  EXPECT_TRUE(eventually([] { return live_children() == 1; }));  // the CLI was spawned
  EXPECT_EQ(stats().live, 1u);     // and holds a slot
  auto st = pgl->statuses();
  ASSERT_FALSE(st.empty());
  EXPECT_EQ(st.back(), "running");
  EXPECT_EQ(pgl->count(storage::stmt::turn_start), 1u);
}

TEST_F(session_machine_test, a_second_run_while_one_runs_is_session_locked_with_a_retry_hint) {
  auto s = make_session();
  ASSERT_ACCEPTED(run(s));
  auto second = run(s);
  EXPECT_REFUSED(second, errc::session_locked);
  auto hint = http::retry_after_of(second->error());
  ASSERT_TRUE(hint.has_value());
  EXPECT_GE(*hint, 1u);
  EXPECT_TRUE(eventually([] { return live_children() == 1; }));  // no second CLI
}

TEST_F(session_machine_test, a_drained_session_refuses_new_turns) {
  auto s = make_session();
  caf::anon_send(s, caa::atom::drain_v);
  sched.run();
  EXPECT_REFUSED(run(s), errc::unavailable);
  EXPECT_TRUE(eventually([] { return live_children() == 0; }));
}

// -- events -------------------------------------------------------------------------------------

TEST_F(session_machine_test, cli_lines_become_events_in_seq_order_stored_then_delivered) {
  auto s = make_session();
  auto sink = std::make_shared<recording_sink>();
  auto head = subscribe(s, sink, 0);
  ASSERT_TRUE(head && *head);
  EXPECT_EQ(**head, 0u);
  ASSERT_ACCEPTED(run(s));
  complete_turn(s, 1);
  std::vector<std::string> want{"init", "message", "result", "done"};
  EXPECT_EQ(stored_names(), want);
  EXPECT_EQ(stored_seqs(), (std::vector<uint64_t>{1, 2, 3, 4}));
  EXPECT_EQ(sink->names(), want);
  EXPECT_EQ(sink->seqs(), (std::vector<uint64_t>{1, 2, 3, 4}));
  EXPECT_EQ(field(last_payload("done"), "reason"), "completed");
  for (auto& e : wl->events) EXPECT_EQ(e.session_id, identity().id);
  EXPECT_EQ(*busy(s), false);
  auto st = pgl->statuses();
  ASSERT_FALSE(st.empty());
  EXPECT_EQ(st.back(), "running");  // idle is part of the turn_finish batch, not a status write
  EXPECT_EQ(pgl->count(storage::stmt::turn_finish), 1u);
  // The process stays for the next turn: accepted at once, after seq 4, on the same CLI.
  auto next = run(s);
  ASSERT_ACCEPTED(next);
  EXPECT_EQ((*next)->turn, 2u);
  EXPECT_EQ((*next)->after_seq, 4u);
  EXPECT_TRUE(eventually([] { return live_children() == 1; }));
  line(s, 1, result_line);
  EXPECT_EQ(stored_count("done"), 2u);
  EXPECT_EQ(stored_seqs().back(), 6u);
}

TEST_F(session_machine_test, events_reach_subscribers_only_after_the_writer_committed_them) {
  auto s = make_session();
  auto sink = std::make_shared<recording_sink>();
  ASSERT_TRUE(ok(subscribe(s, sink, 0)));
  ASSERT_ACCEPTED(run(s));
  wl->fail_next = 1;  // the first append fails: the session retries after 500 ms
  line(s, 1, init_line);
  EXPECT_TRUE(sink->got.empty());
  EXPECT_TRUE(wl->events.empty());
  advance(500ms);
  EXPECT_EQ(stored_seqs(), (std::vector<uint64_t>{1}));
  EXPECT_EQ(sink->seqs(), (std::vector<uint64_t>{1}));
  wl->fail_next = 1;  // fails again; the next event resends the failed one with it, in order
  line(s, 1, assistant_line);
  EXPECT_EQ(sink->seqs(), (std::vector<uint64_t>{1}));
  line(s, 1, result_line);
  EXPECT_EQ(stored_seqs(), (std::vector<uint64_t>{1, 2, 3, 4}));
  EXPECT_EQ(sink->seqs(), (std::vector<uint64_t>{1, 2, 3, 4}));
  advance(500ms);  // the pending retry finds nothing to write
  EXPECT_EQ(stored_seqs(), (std::vector<uint64_t>{1, 2, 3, 4}));
  EXPECT_EQ(sink->seqs(), (std::vector<uint64_t>{1, 2, 3, 4}));
}

TEST_F(session_machine_test, lines_between_turns_produce_no_events) {
  auto s = make_session();
  ASSERT_ACCEPTED(run(s));
  complete_turn(s, 1);
  ASSERT_EQ(wl->events.size(), 4u);
  line(s, 1, assistant_line);
  line(s, 1, result_line);
  line(s, 1, init_line);
  EXPECT_EQ(wl->events.size(), 4u);
  EXPECT_EQ(*busy(s), false);
}

TEST_F(session_machine_test, lines_of_another_generation_are_ignored) {
  auto s = make_session();
  ASSERT_ACCEPTED(run(s));
  line(s, 0, init_line);
  line(s, 2, result_line);
  EXPECT_TRUE(wl->events.empty());
  EXPECT_EQ(*busy(s), true);
}

// -- subscriptions ------------------------------------------------------------------------------

TEST_F(session_machine_test, subscribe_after_two_replays_only_three_and_on) {
  auto s = make_session();
  ASSERT_ACCEPTED(run(s));
  complete_turn(s, 1);
  auto sink = std::make_shared<recording_sink>();
  auto head = subscribe(s, sink, 2);
  ASSERT_TRUE(head && *head);
  EXPECT_EQ(**head, 4u);
  EXPECT_EQ(sink->seqs(), (std::vector<uint64_t>{3, 4}));
  // Then live.
  ASSERT_ACCEPTED(run(s));
  line(s, 1, result_line);
  EXPECT_EQ(sink->seqs(), (std::vector<uint64_t>{3, 4, 5, 6}));
}

TEST_F(session_machine_test, a_closed_subscriber_is_dropped) {
  auto s = make_session();
  auto sink = std::make_shared<recording_sink>();
  ASSERT_TRUE(ok(subscribe(s, sink, 0)));
  ASSERT_ACCEPTED(run(s));
  line(s, 1, init_line);
  ASSERT_EQ(sink->got.size(), 1u);
  sink->close();
  line(s, 1, assistant_line);
  EXPECT_EQ(sink->got.size(), 1u);
  EXPECT_EQ(wl->events.size(), 2u);
}

TEST_F(session_machine_test, subscribing_behind_the_replay_window_is_a_conflict) {
  auto s = make_session();
  ASSERT_ACCEPTED(run(s));
  line(s, 1, init_line);
  // 4096 events are kept in memory; produce more.
  for (int i = 0; i < 4100; ++i) caf::anon_send(s, caa::atom::line_v, uint64_t{1}, assistant_line);
  sched.run();
  ASSERT_EQ(wl->events.size(), 4101u);
  auto old = subscribe(s, std::make_shared<recording_sink>(), 2);
  EXPECT_REFUSED(old, errc::conflict);
  auto zero = subscribe(s, std::make_shared<recording_sink>(), 0);
  EXPECT_REFUSED(zero, errc::conflict);
  // Right at the window's start is fine: 4101 - 4096 = 5 is the last event not in memory.
  auto sink = std::make_shared<recording_sink>();
  auto edge = subscribe(s, sink, 5);
  ASSERT_TRUE(edge && *edge);
  EXPECT_EQ(**edge, 4101u);
  ASSERT_EQ(sink->got.size(), 4096u);
  EXPECT_EQ(sink->got.front().seq, 6u);
  EXPECT_EQ(sink->got.back().seq, 4101u);
}

TEST_F(session_machine_test, a_revived_session_continues_its_seqs_and_refuses_older_replays) {
  auto who = identity();
  who.last_seq = 50;
  who.turns = 7;
  auto s = make_session(who, deps());
  EXPECT_REFUSED(subscribe(s, std::make_shared<recording_sink>(), 10), errc::conflict);
  auto sink = std::make_shared<recording_sink>();
  ASSERT_TRUE(ok(subscribe(s, sink, 50)));
  auto a = run(s);
  ASSERT_ACCEPTED(a);
  EXPECT_EQ((*a)->turn, 8u);
  EXPECT_EQ((*a)->after_seq, 50u);
  complete_turn(s, 1);
  EXPECT_EQ(sink->seqs(), (std::vector<uint64_t>{51, 52, 53, 54}));
}

// -- interrupts ---------------------------------------------------------------------------------

TEST_F(session_machine_test, interrupt_while_idle_is_session_idle) {
  auto s = make_session();
  EXPECT_REFUSED(interrupt(s), errc::session_idle);
  ASSERT_ACCEPTED(run(s));
  complete_turn(s, 1);
  EXPECT_REFUSED(interrupt(s), errc::session_idle);  // after completion too
}

TEST_F(session_machine_test, interrupt_then_result_ends_the_turn_interrupted) {
  auto s = make_session();
  ASSERT_ACCEPTED(run(s));
  line(s, 1, init_line);
  auto i = interrupt(s);
  ASSERT_TRUE(i && *i);
  EXPECT_TRUE(**i);
  auto again = interrupt(s);  // idempotent while the CLI winds down
  ASSERT_TRUE(again && *again);
  line(s, 1, interrupted_result_line);
  EXPECT_EQ(stored_names(), (std::vector<std::string>{"init", "result", "done"}));
  EXPECT_EQ(field(last_payload("done"), "reason"), "interrupted");
  EXPECT_EQ(*busy(s), false);
  // The stop deadline of the interrupted turn passes harmlessly: the CLI stays.
  advance(5s);
  EXPECT_TRUE(eventually([] { return live_children() == 1; }));
  EXPECT_REFUSED(interrupt(s), errc::session_idle);
  auto next = run(s);
  ASSERT_ACCEPTED(next);
  EXPECT_EQ((*next)->turn, 2u);
  line(s, 1, result_line);
  EXPECT_EQ(field(last_payload("done"), "reason"), "completed");
}

TEST_F(session_machine_test, an_interrupt_the_cli_ignores_kills_it_after_five_seconds) {
  auto s = make_session();
  ASSERT_ACCEPTED(run(s));
  ASSERT_TRUE(ok(interrupt(s)));
  advance(4s);
  EXPECT_TRUE(eventually([] { return live_children() == 1; }));
  advance(1s);
  EXPECT_TRUE(eventually([] { return live_children() == 0; }));  // SIGKILL
  EXPECT_EQ(*busy(s), true);                                     // until the exit is seen
  exited(s, 1, 137);
  EXPECT_EQ(stored_names(), (std::vector<std::string>{"done"}));
  EXPECT_EQ(field(last_payload("done"), "reason"), "interrupted");
  EXPECT_EQ(*busy(s), false);
  EXPECT_EQ(stats().live, 0u);  // the slot went back
}

// -- process exits ------------------------------------------------------------------------------

TEST_F(session_machine_test, a_process_exit_mid_turn_is_an_agent_error_then_one_done) {
  auto s = make_session();
  auto sink = std::make_shared<recording_sink>();
  ASSERT_TRUE(ok(subscribe(s, sink, 0)));
  ASSERT_ACCEPTED(run(s));
  line(s, 1, init_line);
  exited(s, 1, 1);
  EXPECT_EQ(stored_names(), (std::vector<std::string>{"init", "error", "done"}));
  EXPECT_EQ(field(wl->events[1].payload_json, "code"), "AGENT_ERROR");
  EXPECT_EQ(field(last_payload("done"), "reason"), "error");
  EXPECT_EQ(sink->names(), stored_names());
  // Nothing more: a late result of the dead process, a second exit, an interrupt.
  line(s, 1, result_line);
  exited(s, 1, 1);
  EXPECT_REFUSED(interrupt(s), errc::session_idle);
  EXPECT_EQ(stored_count("done"), 1u);
  EXPECT_EQ(stored_names().size(), 3u);
  EXPECT_EQ(stats().live, 0u);
  auto st = pgl->statuses();
  ASSERT_FALSE(st.empty());
  EXPECT_EQ(st.back(), "hibernated");
  // A next run spawns generation 2 (after reading the stored transcript: init was seen).
  auto before = pgl->count(storage::stmt::transcript_read);
  auto next = run(s);
  ASSERT_ACCEPTED(next);
  EXPECT_EQ((*next)->turn, 2u);
  EXPECT_EQ((*next)->after_seq, 3u);
  EXPECT_EQ(pgl->count(storage::stmt::transcript_read), before + 1);
  line(s, 1, result_line);  // the old generation: ignored
  EXPECT_EQ(stored_names().size(), 3u);
  line(s, 2, result_line);
  EXPECT_EQ(stored_names(), (std::vector<std::string>{"init", "error", "done", "result", "done"}));
}

TEST_F(session_machine_test, the_exit_of_an_old_generation_is_ignored) {
  auto s = make_session();
  ASSERT_ACCEPTED(run(s));
  exited(s, 1, 1);  // turn 1 ends with an error; gen 1 is gone
  ASSERT_EQ(stored_count("done"), 1u);
  ASSERT_ACCEPTED(run(s));  // gen 2
  exited(s, 1, 1);          // gen 1 again: ignored
  exited(s, 0, 1);          // never existed: ignored
  EXPECT_EQ(stored_count("done"), 1u);
  EXPECT_EQ(*busy(s), true);
  EXPECT_TRUE(eventually([] { return live_children() == 1; }));
  ASSERT_TRUE(ok(interrupt(s)));  // the current process is still there
  exited(s, 2, 137);
  EXPECT_EQ(stored_count("done"), 2u);
  EXPECT_EQ(field(last_payload("done"), "reason"), "interrupted");
}

TEST_F(session_machine_test, other_spawn_options_replace_the_process) {
  auto s = make_session();
  ASSERT_ACCEPTED(run(s, spec("{}")));
  complete_turn(s, 1);
  ASSERT_ACCEPTED(run(s, spec(R"({"model":"other"})")));
  // The old CLI was killed; generation 2 was skipped (killed), the new one is 3.
  EXPECT_TRUE(eventually([] { return live_children() == 1; }));
  line(s, 1, result_line);
  EXPECT_EQ(stored_count("done"), 1u);
  exited(s, 1, 137);  // the killed CLI's exit: ignored
  EXPECT_EQ(*busy(s), true);
  line(s, 3, result_line);
  EXPECT_EQ(stored_count("done"), 2u);
  EXPECT_EQ(*busy(s), false);
  EXPECT_EQ(stats().live, 1u);  // one slot throughout
}

// -- timers -------------------------------------------------------------------------------------

TEST_F(session_machine_test, turn_timeout_interrupts_then_kills) {
  auto d = deps();
  d.turn_timeout = 60s;
  auto s = make_session(identity(), d);
  ASSERT_ACCEPTED(run(s));
  line(s, 1, init_line);
  advance(59s);
  EXPECT_TRUE(eventually([] { return live_children() == 1; }));
  advance(1s);  // TURN_TIMEOUT: an interrupt is written
  EXPECT_TRUE(eventually([] { return live_children() == 1; }));
  EXPECT_EQ(*busy(s), true);
  advance(5s);  // ... and 5 s later the CLI is killed
  EXPECT_TRUE(eventually([] { return live_children() == 0; }));
  exited(s, 1, 137);
  EXPECT_EQ(stored_names(), (std::vector<std::string>{"init", "done"}));
  EXPECT_EQ(field(last_payload("done"), "reason"), "interrupted");
  EXPECT_EQ(*busy(s), false);
}

TEST_F(session_machine_test, turn_timeout_of_a_finished_turn_does_nothing) {
  auto d = deps();
  d.turn_timeout = 60s;
  d.idle_timeout = 3600s;
  auto s = make_session(identity(), d);
  ASSERT_ACCEPTED(run(s));
  complete_turn(s, 1);
  advance(30s);
  ASSERT_ACCEPTED(run(s));  // turn 2 starts at 30 s, before turn 1's deadline (60 s)
  advance(30s);             // turn 1's deadline: turn 2 is not interrupted
  advance(5s);
  EXPECT_TRUE(eventually([] { return live_children() == 1; }));
  EXPECT_EQ(*busy(s), true);
  line(s, 1, result_line);
  EXPECT_EQ(field(last_payload("done"), "reason"), "completed");
}

TEST_F(session_machine_test, idle_timeout_hibernates_and_a_run_respawns) {
  auto d = deps();
  d.idle_timeout = 300s;
  auto s = make_session(identity(), d);
  ASSERT_ACCEPTED(run(s));
  complete_turn(s, 1);
  EXPECT_EQ(stats().idle, 1u);
  advance(299s);
  EXPECT_NE(pgl->statuses().back(), "hibernated");
  advance(1s);
  EXPECT_EQ(pgl->statuses().back(), "hibernated");
  EXPECT_EQ(stats().live, 1u);  // the retiring CLI still holds its slot ...
  exited(s, 1, 0);
  EXPECT_EQ(stats().live, 0u);  // ... until it is gone
  EXPECT_EQ(stored_count("done"), 1u);
  auto next = run(s);
  ASSERT_ACCEPTED(next);
  EXPECT_EQ((*next)->turn, 2u);
  EXPECT_EQ(stats().live, 1u);
  line(s, 2, result_line);
  EXPECT_EQ(stored_count("done"), 2u);
}

TEST_F(session_machine_test, a_run_during_hibernation_waits_for_the_old_process) {
  auto s = make_session();
  ASSERT_ACCEPTED(run(s));
  complete_turn(s, 1);
  caf::anon_send(s, caa::atom::hibernate_v);
  sched.run();
  auto h = self->request(s, caf::infinite, caa::atom::run_v, spec());
  sched.run();
  EXPECT_TRUE(self->mailbox().empty());  // waits for generation 1 to end
  EXPECT_EQ(*busy(s), true);
  EXPECT_REFUSED(run(s), errc::session_locked);
  exited(s, 1, 0);
  auto a = collect<turn_accepted>(h);
  ASSERT_ACCEPTED(a);
  EXPECT_EQ((*a)->turn, 2u);
  EXPECT_EQ(stats().live, 1u);
  line(s, 2, result_line);
  EXPECT_EQ(stored_count("done"), 2u);
}

TEST_F(session_machine_test, hibernate_during_a_turn_is_ignored) {
  auto s = make_session();
  ASSERT_ACCEPTED(run(s));
  caf::anon_send(s, caa::atom::hibernate_v);
  sched.run();
  EXPECT_TRUE(eventually([] { return live_children() == 1; }));
  line(s, 1, result_line);
  EXPECT_EQ(field(last_payload("done"), "reason"), "completed");
}

// -- remove -------------------------------------------------------------------------------------

TEST_F(session_machine_test, remove_closes_subscribers_kills_the_cli_and_quits) {
  auto s = make_session();
  auto sink = std::make_shared<recording_sink>();
  ASSERT_TRUE(ok(subscribe(s, sink, 0)));
  ASSERT_ACCEPTED(run(s));
  line(s, 1, init_line);
  auto r = remove(s);
  ASSERT_TRUE(r && *r);
  EXPECT_TRUE(**r);
  EXPECT_EQ(sink->closes, 1);
  EXPECT_FALSE(sink->open());
  EXPECT_EQ(rl->removed, (std::vector<std::string>{identity().id}));
  EXPECT_EQ(pgl->count(storage::stmt::session_delete), 1u);
  EXPECT_TRUE(eventually([] { return live_children() == 0; }));
  EXPECT_EQ(stats().live, 0u);
  // The actor is gone.
  auto b = busy(s);
  ASSERT_TRUE(b.has_value());
  EXPECT_FALSE(*b);
}

// BUG (actors/session.cpp, the attach_functor of `session`): CAF 0.17's
// A session actor killed mid-turn (e.g. by its registry at shutdown) must take its CLI along.
// (Regression: an exit functor once read the state after CAF 0.17 had destroyed it.)
TEST_F(session_machine_test, killing_a_session_actor_kills_its_cli) {
  auto s = make_session();
  ASSERT_ACCEPTED(run(s));
  line(s, 1, init_line);
  caf::anon_send(s, caa::atom::hibernate_v);  // ignored mid-turn
  caf::anon_send_exit(s, caf::exit_reason::kill);
  sched.run();
  EXPECT_TRUE(eventually([] { return live_children() == 0; }));
}

// When the DELETE fails the session has already killed its CLI: the turn must still end and the
// session stay usable.
TEST_F(session_machine_test, a_failed_remove_mid_turn_leaves_a_usable_session) {
  auto s = make_session();
  ASSERT_ACCEPTED(run(s));
  line(s, 1, init_line);
  pgl->fail.insert(std::string{storage::stmt::session_delete});
  auto r = remove(s);
  EXPECT_REFUSED(r, errc::unavailable);
  pgl->fail.clear();
  // Expected: the turn ended (one done) or can still be interrupted, and a later run works.
  advance(600s + 5s);
  (void)interrupt(s);
  auto next = run(s);
  EXPECT_EQ(stored_count("done"), 1u);
  ASSERT_ACCEPTED(next);
}

// -- every order of interrupt / result / exit / second run ---------------------------------------

namespace {

enum class step { interrupt, result, exit, run };

const char* to_str(step s) {
  switch (s) {
    case step::interrupt:
      return "interrupt";
    case step::result:
      return "result";
    case step::exit:
      return "exit";
    default:
      return "run";
  }
}

/// What the session should do, step by step (the specification, written independently).
struct model {
  bool in_turn = true;
  bool proc = true;  // generation `gen` lives
  bool interrupted = false;
  uint64_t gen = 1;
  uint32_t turns = 1;
  std::vector<std::string> events{"init"};
};

}  // namespace

TEST_F(session_machine_test, every_order_of_interrupt_result_exit_and_run_ends_each_turn_once) {
  std::vector<step> steps{step::interrupt, step::result, step::exit, step::run};
  std::sort(steps.begin(), steps.end());
  int n = 0;
  do {
    std::string order;
    for (auto x : steps) order += std::string{to_str(x)} + " ";
    SCOPED_TRACE(order);
    wl->events.clear();
    auto id = "00000000-0000-4000-8000-" + std::string(9, '0') + std::to_string(100 + n++);
    auto s = make_session(identity(id), deps());
    auto sink = std::make_shared<recording_sink>();
    ASSERT_TRUE(ok(subscribe(s, sink, 0)));
    ASSERT_ACCEPTED(run(s));
    line(s, 1, init_line);
    model m;
    for (auto x : steps) {
      switch (x) {
        case step::interrupt: {
          auto ans = interrupt(s);
          ASSERT_TRUE(ans.has_value());
          if (m.in_turn && m.proc) {
            EXPECT_TRUE(*ans) << "interrupt refused";
            m.interrupted = true;
          } else {
            EXPECT_REFUSED(ans, errc::session_idle);
          }
          break;
        }
        case step::result:
          line(s, 1, m.interrupted ? interrupted_result_line : result_line);
          if (m.in_turn && m.proc && m.gen == 1) {
            m.events.push_back("result");
            m.events.push_back("done");
            m.in_turn = false;
          }
          break;
        case step::exit:
          exited(s, 1, 1);
          if (m.gen == 1) {
            m.proc = false;
            if (m.in_turn) {
              if (!m.interrupted) m.events.push_back("error");
              m.events.push_back("done");
              m.in_turn = false;
            }
          }
          break;
        case step::run: {
          auto ans = run(s);
          ASSERT_TRUE(ans.has_value());
          if (m.in_turn) {
            EXPECT_REFUSED(ans, errc::session_locked);
          } else {
            ASSERT_TRUE(*ans) << "run refused: " << caf::to_string(ans->error());
            EXPECT_EQ((*ans)->turn, m.turns + 1);
            EXPECT_EQ((*ans)->after_seq, m.events.size());
            ++m.turns;
            m.in_turn = true;
            m.interrupted = false;
            if (!m.proc) {
              m.gen = 2;
              m.proc = true;
            }
          }
          break;
        }
      }
      EXPECT_EQ(*busy(s), m.in_turn) << "after " << to_str(x);
    }
    // End a turn still running with a result of the live process, then one more turn.
    if (m.in_turn) {
      ASSERT_TRUE(m.proc);
      line(s, m.gen, result_line);
      m.events.push_back("result");
      m.events.push_back("done");
    }
    EXPECT_EQ(*busy(s), false);
    auto last = run(s);
    ASSERT_TRUE(last.has_value());
    ASSERT_TRUE(*last) << "final run refused: " << caf::to_string(last->error());
    uint64_t gen = m.proc ? m.gen : m.gen + 1;
    line(s, gen, result_line);
    m.events.push_back("result");
    m.events.push_back("done");
    ++m.turns;
    EXPECT_EQ(stored_names(), m.events);
    EXPECT_EQ(sink->names(), m.events);
    std::vector<uint64_t> want(m.events.size());
    std::iota(want.begin(), want.end(), uint64_t{1});
    EXPECT_EQ(stored_seqs(), want);
    EXPECT_EQ(stored_count("done"), m.turns) << "one done per turn";
    ASSERT_TRUE(ok(remove(s)));
    EXPECT_TRUE(eventually([] { return live_children() == 0; })) << "the CLI outlived its session";
  } while (std::next_permutation(steps.begin(), steps.end()));
  EXPECT_EQ(n, 24);
  EXPECT_TRUE(eventually([] { return live_children() == 0; }));
}
