// The session actor's state machine under every order of interrupt, result, process exit and a
// second run (RELIABILITY.md T16), driven deterministically (session_machine_fixture.hpp).

#include "tests/unit/session_machine_fixture.hpp"

using namespace caa;
using namespace session_machine;
using namespace std::chrono_literals;

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
    EXPECT_EQ(live_clis(), 0u) << "the CLI outlived its session";
    clis->reap_killed();  // their slot goes back once they are reaped
    sched.run();
  } while (std::next_permutation(steps.begin(), steps.end()));
  EXPECT_EQ(n, 24);
  EXPECT_EQ(live_clis(), 0u);
}
