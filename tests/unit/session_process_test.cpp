// The session actor and its CLI process (issue 3; RELIABILITY.md T16): process exits, what the
// session launches and writes through the launcher seam, and the bounds on what the CLI says,
// driven deterministically (session_machine_fixture.hpp).

#include "tests/unit/session_machine_fixture.hpp"

#include <rapidjson/document.h>

using namespace caa;
using namespace session_machine;
using namespace std::chrono_literals;

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
  auto h = self->request(s, caf::infinite, caa::atom::run_v, spec(R"({"model":"other"})"));
  sched.run();
  // The old CLI was killed; the new one waits for its exit, which frees the one slot for it.
  EXPECT_EQ(live_clis(), 0u);
  EXPECT_EQ(clis->clis.size(), 1u) << "a new CLI started while the old one still ran";
  EXPECT_TRUE(self->mailbox().empty()) << "the turn was accepted without a process";
  line(s, 1, result_line);  // the killed CLI's lines: ignored
  EXPECT_EQ(stored_count("done"), 1u);
  exited(s, 1, 137);
  ASSERT_ACCEPTED(collect<turn_accepted>(h));
  // Generation 2 was skipped (the killed one's lines stay ignored); the new one is 3.
  EXPECT_EQ(live_clis(), 1u);
  EXPECT_EQ(*busy(s), true);
  line(s, 3, result_line);
  EXPECT_EQ(stored_count("done"), 2u);
  EXPECT_EQ(*busy(s), false);
  EXPECT_EQ(stats().live, 1u);  // one slot throughout
}

// -- what the CLI says is bounded ---------------------------------------------------------------

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

TEST_F(session_machine_test, a_turn_waits_for_its_process_to_start_off_the_session_thread) {
  clis->hold_starts = true;
  auto s = make_session();
  auto h = self->request(s, caf::infinite, caa::atom::run_v, spec());
  sched.run();
  ASSERT_EQ(clis->held.size(), 1u);  // the start went to a launch thread
  EXPECT_TRUE(self->mailbox().empty()) << "answered before its process started";
  EXPECT_EQ(clis->clis.size(), 0u);
  EXPECT_EQ(*busy(s), true);
  EXPECT_REFUSED(run(s), errc::session_locked);  // no second start meanwhile
  EXPECT_EQ(clis->held.size(), 1u);
  clis->held[0]();  // the launch thread is done
  sched.run();
  ASSERT_ACCEPTED(collect<turn_accepted>(h));
  ASSERT_EQ(live_clis(), 1u);
  EXPECT_EQ(kind_of(last_cli().lines[0]), "control_request:initialize");
  complete_turn(s, 1);  // the process's lines are its generation's
  EXPECT_EQ(stored_count("done"), 1u);
}

TEST_F(session_machine_test, a_session_deleted_while_its_process_starts_never_takes_it) {
  clis->hold_starts = true;
  auto s = make_session();
  self->request(s, caf::infinite, caa::atom::run_v, spec());
  sched.run();
  ASSERT_EQ(clis->held.size(), 1u);
  caf::anon_send(s, caa::atom::remove_v);
  clis->held[0]();  // the start ends while the delete runs: `launched` comes after `remove`
  sched.run();
  EXPECT_EQ(stats().live, 0u);  // its slot went back
  EXPECT_EQ(clis->clis.size(), 0u) << "a forgotten start was served";
}

TEST_F(session_machine_test, a_start_that_arrives_after_a_delete_gives_the_slot_back_once_reaped) {
  clis->hold_starts = true;
  clis->start_processes = true;  // the process runs before it is served, as a real one does
  auto s = make_session();
  self->request(s, caf::infinite, caa::atom::run_v, spec());
  sched.run();
  ASSERT_EQ(clis->held.size(), 1u);
  caf::anon_send(s, caa::atom::remove_v);
  sched.run();
  EXPECT_EQ(stats().live, 1u) << "the slot went back while a process was still starting";
  clis->held[0]();  // the start ends after the delete: its process is killed at once
  sched.run();
  ASSERT_EQ(clis->clis.size(), 1u);
  EXPECT_TRUE(clis->clis[0]->killed) << "a start nobody wants kept its process";
  EXPECT_EQ(stats().live, 1u) << "the slot went back while the killed process still ran";
  clis->reap(0);
  sched.run();
  EXPECT_EQ(stats().live, 0u) << "the reaped process never gave its slot back";
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
