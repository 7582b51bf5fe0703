// The session actor's state machine (issue 3; RELIABILITY.md T16): runs, interrupts,
// subscriptions, process exits and results, driven deterministically (session_machine_fixture.hpp).

#include "tests/unit/session_machine_fixture.hpp"

using namespace caa;
using namespace session_machine;
using namespace std::chrono_literals;

// -- runs ---------------------------------------------------------------------------------------

TEST_F(session_machine_test, a_run_is_accepted_as_turn_one_after_seq_zero) {
  auto s = make_session();
  auto a = run(s);
  ASSERT_ACCEPTED(a);
  EXPECT_EQ((*a)->turn, 1u);
  EXPECT_EQ((*a)->after_seq, 0u);
  EXPECT_EQ((*a)->session_id, identity().id);
  EXPECT_EQ(*busy(s), true);
  EXPECT_EQ(live_clis(), 1u);   // the CLI was spawned
  EXPECT_EQ(stats().live, 1u);  // and holds a slot
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
  auto hint = caa::retry_after_of(second->error());
  ASSERT_TRUE(hint.has_value());
  EXPECT_GE(*hint, 1u);
  EXPECT_EQ(live_clis(), 1u);  // no second CLI
}

TEST_F(session_machine_test, a_drained_session_refuses_new_turns) {
  auto s = make_session();
  caf::anon_send(s, caa::atom::drain_v);
  sched.run();
  EXPECT_REFUSED(run(s), errc::unavailable);
  EXPECT_EQ(live_clis(), 0u);
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
  EXPECT_EQ(live_clis(), 1u);
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
  EXPECT_EQ(live_clis(), 1u);
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
  EXPECT_EQ(live_clis(), 1u);
  advance(1s);
  EXPECT_EQ(live_clis(), 0u);  // SIGKILL
  EXPECT_EQ(*busy(s), true);   // until the exit is seen
  exited(s, 1, 137);
  EXPECT_EQ(stored_names(), (std::vector<std::string>{"done"}));
  EXPECT_EQ(field(last_payload("done"), "reason"), "interrupted");
  EXPECT_EQ(*busy(s), false);
  EXPECT_EQ(stats().live, 0u);  // the slot went back
}

// -- process exits ------------------------------------------------------------------------------

TEST_F(session_machine_test,
       a_process_killed_by_a_sandbox_cap_says_which_and_the_session_lives_on) {
  auto s = make_session();
  auto sink = std::make_shared<recording_sink>();
  ASSERT_TRUE(ok(subscribe(s, sink, 0)));
  ASSERT_ACCEPTED(run(s));
  line(s, 1, init_line);
  exited(s, 1, 137, "memory");
  EXPECT_EQ(stored_names(), (std::vector<std::string>{"init", "error", "done"}));
  EXPECT_EQ(field(wl->events[1].payload_json, "code"), "AGENT_LIMIT");
  EXPECT_NE(field(wl->events[1].payload_json, "message").find("memory"), std::string::npos);
  EXPECT_EQ(field(last_payload("done"), "reason"), "error");
  // The session takes the next turn (a new process).
  ASSERT_ACCEPTED(run(s));
}

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
  EXPECT_EQ(live_clis(), 1u);
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
  EXPECT_EQ(live_clis(), 1u);
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
  EXPECT_EQ(live_clis(), 1u);
  advance(1s);  // TURN_TIMEOUT: an interrupt is written
  EXPECT_EQ(live_clis(), 1u);
  EXPECT_EQ(*busy(s), true);
  advance(5s);  // ... and 5 s later the CLI is killed
  EXPECT_EQ(live_clis(), 0u);
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
  EXPECT_EQ(live_clis(), 1u);
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
  EXPECT_EQ(live_clis(), 1u);
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
  EXPECT_EQ(live_clis(), 0u);
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
  EXPECT_EQ(live_clis(), 0u);
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

TEST_F(session_machine_test, a_flood_of_permission_requests_keeps_at_most_sixteen_pending) {
  // The CLI's stdout is the tenant's: 40 can_use_tool requests (one repeated) must not grow the
  // session without bound. The first 16 become permission_request events, the rest are denied.
  auto s = make_session();
  ASSERT_ACCEPTED(run(s));
  line(s, 1, init_line);
  for (int i = 0; i < 40; ++i) {
    auto id = "req-" + std::to_string(i < 20 ? i : 0);
    line(
        s, 1,
        R"({"type":"control_request","request_id":")" + id +
            R"(","request":{"subtype":"can_use_tool","tool_name":"Bash","input":{"command":"touch x"},)"
            R"("tool_use_id":"toolu_)" +
            std::to_string(i) + R"("}})");
  }
  EXPECT_EQ(stored_count("permission_request"), 16u);  // max_pending_requests
}

TEST_F(session_machine_test, a_result_with_absurd_figures_stores_none_of_them) {
  auto s = make_session();
  ASSERT_ACCEPTED(run(s));
  line(s, 1, init_line);
  line(s, 1,
       R"({"type":"result","subtype":"success","is_error":false,"total_cost_usd":-5e300,)"
       R"("num_turns":1,"result":"ok","session_id":"cli-id","uuid":"r1",)"
       R"("usage":{"input_tokens":-3,"output_tokens":1e300,"cache_read_input_tokens":7},)"
       R"("model_usage":{"m\"; drop table":{}}})");
  ASSERT_EQ(pgl->count(storage::stmt::turn_finish), 1u);
  auto params = pgl->params_of(storage::stmt::turn_finish);
  std::string all;
  for (auto& p : params) all += p + "|";
  EXPECT_EQ(all.find("-5e"), std::string::npos) << all;
  EXPECT_EQ(all.find("drop table"), std::string::npos) << all;
  EXPECT_EQ(all.find("-3"), std::string::npos) << all;
  EXPECT_NE(all.find(R"({"cache_read_input_tokens":7})"), std::string::npos) << all;
}

// -- the CLI it drives (through the launcher seam) ----------------------------------------------

/// The `type` of JSON line `json`, and its `request.subtype` when it is a control request.
static std::string kind_of(const std::string& json) {
  rapidjson::Document d;
  d.Parse(json.c_str());
  if (d.HasParseError() || !d.IsObject() || !d.HasMember("type")) return "?";
  std::string kind = d["type"].GetString();
  if (kind == "control_request" && d.HasMember("request") && d["request"].HasMember("subtype"))
    kind += std::string{":"} + d["request"]["subtype"].GetString();
  return kind;
}

TEST_F(session_machine_test, a_new_session_launches_its_cli_with_its_id_and_writes_the_prompt) {
  auto s = make_session();
  ASSERT_ACCEPTED(run(s));
  ASSERT_EQ(clis->clis.size(), 1u);
  auto& c = last_cli();
  ASSERT_TRUE(c.opts.session_id.has_value());
  EXPECT_EQ(*c.opts.session_id, identity().id);  // the CLI's session id is ours
  EXPECT_FALSE(c.opts.resume.has_value());
  EXPECT_TRUE(c.opts.session_mirror);
  ASSERT_EQ(c.lines.size(), 2u);
  EXPECT_EQ(kind_of(c.lines[0]), "control_request:initialize");
  EXPECT_EQ(kind_of(c.lines[1]), "user");
  EXPECT_NE(c.lines[1].find("\"hello\""), std::string::npos) << c.lines[1];
}

TEST_F(session_machine_test, a_session_with_a_transcript_resumes_it) {
  auto who = identity();
  who.cli_session_started = true;
  who.turns = 1;
  who.last_seq = 4;
  auto s = make_session(who, deps());
  ASSERT_ACCEPTED(run(s));
  ASSERT_EQ(clis->clis.size(), 1u);
  auto& c = last_cli();
  ASSERT_TRUE(c.opts.resume.has_value());
  EXPECT_EQ(*c.opts.resume, who.id);
  EXPECT_FALSE(c.opts.session_id.has_value());
}

TEST_F(session_machine_test, an_interrupt_is_one_control_request_to_the_cli) {
  auto s = make_session();
  ASSERT_ACCEPTED(run(s));
  ASSERT_TRUE(ok(interrupt(s)));
  ASSERT_TRUE(ok(interrupt(s)));  // idempotent: nothing more is written
  auto& c = last_cli();
  ASSERT_EQ(c.lines.size(), 3u);
  EXPECT_EQ(kind_of(c.lines[2]), "control_request:interrupt");
  EXPECT_FALSE(c.killed);
}

TEST_F(session_machine_test, a_cli_that_cannot_start_fails_the_run_and_gives_its_slot_back) {
  auto s = make_session();
  clis->fail_next = 1;
  EXPECT_REFUSED(run(s), errc::agent_error);
  EXPECT_EQ(stats().live, 0u);
  EXPECT_EQ(*busy(s), false);
  ASSERT_ACCEPTED(run(s));  // the next launch works
  EXPECT_EQ(live_clis(), 1u);
  EXPECT_EQ(stats().live, 1u);
}

TEST_F(session_machine_test, a_prompt_the_cli_cannot_take_fails_the_run_and_its_exit_frees_it) {
  auto s = make_session();
  ASSERT_ACCEPTED(run(s));
  complete_turn(s, 1);
  last_cli().killed = true;  // its pipe broke: the next write fails
  EXPECT_REFUSED(run(s), errc::agent_error);
  EXPECT_EQ(*busy(s), false);
  EXPECT_EQ(stored_count("done"), 1u);  // no turn began: no second done
  exited(s, 1, 1);                      // its exit follows
  ASSERT_ACCEPTED(run(s));              // a new CLI takes the next turn
  EXPECT_EQ(clis->clis.size(), 2u);
  EXPECT_EQ(live_clis(), 1u);
}
