#pragma once

// The fixture of the session actor's state-machine tests (session_machine_*_test.cpp): fakes
// of PostgreSQL, the event writer and the registry, a recording subscriber, and a session
// driven by CAF's test coordinator.
//
// The session actor's state machine is driven deterministically by CAF's test coordinator
// (issue 3; RELIABILITY.md T16): runs, interrupts, subscriptions, process exits and results in
// every order, with fake PostgreSQL, a fake event writer and a recording subscriber.
//
// Determinism: the session launches its CLI through the `cli_launcher` seam, and the fixture's
// launcher makes fakes that record the options of each launch, every line the session writes,
// and whether it stopped or killed them (`clis`). No process runs, no other thread exists: the
// test injects the CLI's stdout lines and exits itself as the INTERNAL `(line, gen, text)` and
// `(exited, gen, code, cap)` messages, in exactly the order it wants. At teardown every actor is
// removed or killed and the fixture checks that no CLI outlived its session.

#include "tests/unit/actor_test_support.hpp"
#include "tests/unit/session_machine_fakes.hpp"

namespace session_machine {

// -- the fixture --------------------------------------------------------------------------------

using test_config = caa::test_support::coordinator_config;

template <class T>
using answer = std::optional<caf::expected<T>>;

inline errc code_of(const caf::error& e) {
  return errc_of(e);
}

/// Whether an answer arrived and is a success.
template <class T>
inline bool ok(const answer<T>& x) {
  return x.has_value() && static_cast<bool>(*x);
}

class session_machine_test : public ::testing::Test {
 protected:
  session_machine_test()
      : sys(cfg),
        sched(dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler())),
        self(sys) {
    char tmpl[] = "/tmp/session-machine-XXXXXX";
    dir = ::mkdtemp(tmpl);
    pg = sys.spawn(fake_pg, pgl);
    writer = sys.spawn(fake_writer, wl);
    registry = sys.spawn(fake_registry, rl);
    admission = spawn_admission(sys, {budget, 10s});
    spawned = {caf::actor_cast<caf::actor>(pg), caf::actor_cast<caf::actor>(writer),
               caf::actor_cast<caf::actor>(registry), caf::actor_cast<caf::actor>(admission)};
  }

  ~session_machine_test() override {
    // The test coordinator runs nothing by itself: stop every actor and let the system end.
    // Sessions end through `remove` (it kills and drops their CLIs first).
    pgl->fail.clear();
    for (auto& s : sessions) caf::anon_send(s, caa::atom::remove_v);
    sched.run();
    for (auto& a : spawned) caf::anon_send_exit(a, caf::exit_reason::kill);
    sched.run();
    EXPECT_EQ(live_clis(), 0u) << "a CLI outlived its session actor";
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
    d.launcher = launcher;
    d.turn_timeout = 600s;
    d.idle_timeout = 300s;
    d.retire_after = 0s;  // never, unless a test asks for it (session_stream_test)
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
    t->driver.cli_path = "claude";  // never started: the launcher is a fake
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

  /// Injects the end of process generation `gen` (`cap`: the sandbox cap its tree hit).
  void exited(session_actor s, uint64_t gen, int32_t code = 1, std::string cap = {}) {
    caf::anon_send(s, caa::atom::exited_v, gen, code, std::move(cap));
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

  /// The CLIs launched so far that were not killed (a stopped CLI runs until it exits).
  std::size_t live_clis() const { return clis->live(); }

  /// The last CLI launched (the test fails when there is none).
  cli_log::cli& last_cli() {
    if (clis->clis.empty()) throw std::logic_error("no CLI was launched");
    return *clis->clis.back();
  }

  // What the fake CLIs did; declared first: the sessions' CLI handles point into it.
  std::shared_ptr<cli_log> clis = std::make_shared<cli_log>();
  std::shared_ptr<cli_launcher> launcher = std::make_shared<fake_launcher>(clis);
  uint32_t budget = 4;
  test_config cfg;
  caf::actor_system sys;
  caf::scheduler::test_coordinator& sched;
  caf::scoped_actor self;
  fs::path dir;
  std::shared_ptr<pg_log> pgl = std::make_shared<pg_log>();
  std::shared_ptr<writer_log> wl = std::make_shared<writer_log>();
  std::shared_ptr<registry_log> rl = std::make_shared<registry_log>();
  storage::pg_actor pg;
  storage::event_writer_actor writer;
  session_owner_actor registry;
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

}  // namespace session_machine
