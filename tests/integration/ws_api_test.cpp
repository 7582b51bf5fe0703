// Black-box tests of the WebSocket API (`GET /api/v1/ws`): the service binary drives the real
// Claude Code CLI against the scripted model. Authentication happens before the upgrade (keys,
// Bearer, single-use tickets), prompts stream their sessions' events with acks, one connection
// drives several sessions, subscriptions replay exactly what was missed, bad frames get error
// frames on a connection that keeps working, another tenant's sessions are out of reach,
// interrupts end a turn, and a reader that stops reading is closed with 1008 while its session
// completes. Needs DATABASE_URL, CLAUDE_CLI_PATH and the scripted_model binary in CAA_BIN_DIR
// (skipped otherwise).

#include "tests/integration/session_flow_fixture.hpp"
#include "tests/support/ws_client.hpp"

#include <set>

using namespace caa::test;
using namespace std::chrono_literals;

namespace {

/// One decoded server frame.
struct frame {
  std::string type;        ///< event, ack, error, pong
  std::string session_id;  ///< "" when absent
  uint64_t id = 0;         ///< events: the event id
  std::string event;       ///< events: the event name
  std::string for_type;    ///< acks and errors: the frame answered
  std::string code;        ///< errors: the public code
  std::string raw;         ///< the whole frame
  std::string reason;      ///< done events: data.reason
};

std::string member(const rapidjson::Value& v, const char* name) {
  return v.IsObject() && v.HasMember(name) && v[name].IsString() ? v[name].GetString() : "";
}

frame decode(const std::string& text) {
  frame f;
  f.raw = text;
  auto d = parse_json(text);
  if (!d.IsObject()) return f;
  f.type = member(d, "type");
  f.session_id = member(d, "session_id");
  f.event = member(d, "event");
  f.for_type = member(d, "for");
  f.code = member(d, "code");
  if (d.HasMember("id") && d["id"].IsUint64()) f.id = d["id"].GetUint64();
  if (d.HasMember("data")) f.reason = member(d["data"], "reason");
  return f;
}

/// The suite's fixture: the session-flow suite's model, service and keys (with a small
/// WebSocket queue budget), and WebSocket helpers.
class ws_api_test : public session_flow_test {
 protected:
  static void SetUpTestSuite() {
    start_suite({{"WS_SEND_QUEUE_BYTES", "262144"}, {"STREAM_STALL_TIMEOUT", "3"}});
  }

  /// A completed one-turn session of `who`, made over HTTP (asserts on the way).
  static std::string new_session(const tenant_key& who, const std::string& prompt) {
    auto r =
        sse_call(port(), "POST", "/api/v1/query", auth(who), R"({"prompt":")" + prompt + "\"}");
    EXPECT_EQ(r.status, 200u) << r.body;
    for (auto& e : r.events)
      if (e.event == "init") return member(parse_json(e.data), "session_id");
    ADD_FAILURE() << "no init event: " << r.body;
    return {};
  }

  /// A connected client of `who` (asserts the 101).
  static std::unique_ptr<ws_client> connect(const tenant_key& who,
                                            const std::string& target = "/api/v1/ws",
                                            int receive_buffer = 0) {
    auto c = std::make_unique<ws_client>();
    auto hs = c->connect(port(), target, auth(who), receive_buffer);
    EXPECT_EQ(hs.status, 101u) << hs.body;
    return c;
  }

  /// Reads frames until `stop` holds for one (which is included) or the connection ends.
  template <class Stop>
  static std::vector<frame> read_until(ws_client& c, Stop stop,
                                       std::chrono::milliseconds guard = 120s) {
    std::vector<frame> out;
    for (;;) {
      auto m = c.read(guard);
      if (!m.ok) {
        ADD_FAILURE() << "connection ended or timed out while waiting";
        return out;
      }
      out.push_back(decode(m.text));
      if (stop(out.back())) return out;
    }
  }

  /// Reads until the `done` event of session `id` (any session when empty).
  static std::vector<frame> until_done(ws_client& c, const std::string& id = {}) {
    return read_until(c, [&](const frame& f) {
      return f.type == "event" && f.event == "done" && (id.empty() || f.session_id == id);
    });
  }

  /// The next frame, which must be one (asserts).
  static frame next(ws_client& c) {
    auto m = c.read(60s);
    EXPECT_TRUE(m.ok) << "no frame";
    return decode(m.text);
  }

  /// The body of GET /api/v1/sessions/{id} as `who`.
  static rapidjson::Document session_doc(const tenant_key& who, const std::string& id) {
    auto r = http_call(port(), "GET", "/api/v1/sessions/" + id, auth(who));
    EXPECT_EQ(r.status, 200u) << r.body;
    return parse_json(r.body);
  }
};

/// The events of `frames` (in order) of session `id`.
std::vector<frame> events_of(const std::vector<frame>& frames, const std::string& id) {
  std::vector<frame> out;
  for (const auto& f : frames)
    if (f.type == "event" && f.session_id == id) out.push_back(f);
  return out;
}

void expect_one_turn(const std::vector<frame>& events, const std::string& reason = "completed") {
  ASSERT_GE(events.size(), 3u);
  EXPECT_EQ(events.front().event, "init");
  EXPECT_EQ(events.back().event, "done");
  EXPECT_EQ(events.back().reason, reason);
  for (std::size_t i = 1; i < events.size(); ++i)
    EXPECT_LT(events[i - 1].id, events[i].id) << events[i].raw;
}

}  // namespace

TEST_F(ws_api_test, a_prompt_is_acked_and_streams_its_turn_then_a_second_turn_continues) {
  auto c = connect(alpha_);
  ASSERT_TRUE(c->send_text(R"({"type":"prompt","prompt":"[[echo]] websocket first"})"));
  auto ack = next(*c);
  ASSERT_EQ(ack.type, "ack") << ack.raw;
  EXPECT_EQ(ack.for_type, "prompt");
  ASSERT_EQ(ack.session_id.size(), 36u) << ack.raw;
  auto first = events_of(until_done(*c, ack.session_id), ack.session_id);
  expect_one_turn(first);
  EXPECT_NE(
      std::find_if(first.begin(), first.end(), [](const frame& f) { return f.event == "result"; }),
      first.end());
  // The data of an event is the event's JSON object itself.
  EXPECT_NE(first.front().raw.find(R"("data":{"session_id":")" + ack.session_id), std::string::npos)
      << first.front().raw;

  ASSERT_TRUE(
      c->send_text(R"({"type":"prompt","prompt":"[[echo]] websocket second","session_id":")" +
                   ack.session_id + "\"}"));
  auto frames = until_done(*c, ack.session_id);
  auto acks = std::count_if(frames.begin(), frames.end(), [&](const frame& f) {
    return f.type == "ack" && f.for_type == "prompt" && f.session_id == ack.session_id;
  });
  EXPECT_EQ(acks, 1);
  auto second = events_of(frames, ack.session_id);
  expect_one_turn(second);
  EXPECT_GT(second.front().id, first.back().id);
  EXPECT_TRUE(eventually([&] {  // the session row is written after the done event is sent
    return session_doc(alpha_, ack.session_id)["total_turns"].GetInt() == 2;
  }));

  // Another connection subscribes after an event in the middle of the first turn: it gets
  // exactly the events after it, in order, from both turns.
  auto from = first[1].id;
  auto later = connect(alpha_);
  ASSERT_TRUE(later->send_text(R"({"type":"subscribe","session_id":")" + ack.session_id +
                               R"(","after":)" + std::to_string(from) + "}"));
  auto sub_ack = next(*later);
  EXPECT_EQ(sub_ack.type, "ack") << sub_ack.raw;
  EXPECT_EQ(sub_ack.for_type, "subscribe");
  auto replay = events_of(until_done(*later, ack.session_id), ack.session_id);
  std::vector<uint64_t> expected;
  for (const auto& f : first)
    if (f.id > from) expected.push_back(f.id);
  std::vector<uint64_t> got;
  for (const auto& f : replay) got.push_back(f.id);
  ASSERT_GE(got.size(), expected.size());
  EXPECT_EQ(std::vector<uint64_t>(got.begin(), got.begin() + expected.size()), expected);
  // Without a gap: the stored ids of a session are contiguous.
  for (std::size_t i = 1; i < got.size(); ++i) EXPECT_EQ(got[i], got[i - 1] + 1);
}

TEST_F(ws_api_test, one_connection_drives_two_sessions_at_once) {
  auto c = connect(alpha_, "/api/v1/query/ws");
  ASSERT_TRUE(c->send_text(R"({"type":"prompt","prompt":"[[slow 3 100]] one"})"));
  ASSERT_TRUE(c->send_text(R"({"type":"prompt","prompt":"[[slow 3 100]] two"})"));
  std::set<std::string> acked;
  std::set<std::string> done;
  auto frames = read_until(*c, [&](const frame& f) {
    if (f.type == "ack") acked.insert(f.session_id);
    if (f.type == "event" && f.event == "done") done.insert(f.session_id);
    return done.size() == 2;
  });
  ASSERT_EQ(acked.size(), 2u);
  EXPECT_EQ(done, acked);
  for (const auto& id : acked) expect_one_turn(events_of(frames, id));
}

TEST_F(ws_api_test, authentication_happens_before_the_upgrade) {
  ws_client none;
  auto r = none.connect(port(), "/api/v1/ws");
  EXPECT_EQ(r.status, 401u);
  EXPECT_NE(r.body.find("AUTHENTICATION_ERROR"), std::string::npos) << r.body;

  ws_client bad;
  r = bad.connect(port(), "/api/v1/ws", {{"X-API-Key", random_key()}});
  EXPECT_EQ(r.status, 401u);

  ws_client bearer;
  r = bearer.connect(port(), "/api/v1/ws", {{"Authorization", "Bearer " + alpha_.key}});
  EXPECT_EQ(r.status, 101u) << r.body;
  EXPECT_FALSE(r.headers["x-correlation-id"].empty());

  ws_client unknown_ticket;
  r = unknown_ticket.connect(port(),
                             "/api/v1/ws?ticket=abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG");
  EXPECT_EQ(r.status, 401u);

  auto t = http_call(port(), "POST", "/api/v1/ws/ticket", auth(alpha_));
  ASSERT_EQ(t.status, 201u) << t.body;
  auto doc = parse_json(t.body);
  ASSERT_TRUE(doc.IsObject() && doc["ticket"].IsString()) << t.body;
  EXPECT_EQ(doc["expires_in"].GetInt(), 30);
  std::string ticket = doc["ticket"].GetString();
  EXPECT_GE(ticket.size(), 43u);

  ws_client with_ticket;
  r = with_ticket.connect(port(), "/api/v1/ws?ticket=" + ticket);
  ASSERT_EQ(r.status, 101u) << r.body;
  ASSERT_TRUE(with_ticket.send_text(R"({"type":"ping"})"));
  EXPECT_EQ(decode(with_ticket.read(30s).text).type, "pong");

  ws_client reused;
  r = reused.connect(port(), "/api/v1/ws?ticket=" + ticket);
  EXPECT_EQ(r.status, 401u) << "a ticket is single-use";

  auto anonymous = http_call(port(), "POST", "/api/v1/ws/ticket");
  EXPECT_EQ(anonymous.status, 401u);
  // Not an upgrade: a plain GET of the WebSocket path.
  EXPECT_EQ(http_call(port(), "GET", "/api/v1/ws", auth(alpha_)).status, 400u);
  // The ticket never reaches the log (the edge logs route templates, not targets).
  EXPECT_EQ(service_->log().find(ticket), std::string::npos);
}

TEST_F(ws_api_test, bad_frames_get_error_frames_and_the_connection_keeps_working) {
  auto c = connect(alpha_);
  auto expect_validation = [&](const std::string& field) {
    auto f = next(*c);
    EXPECT_EQ(f.type, "error") << f.raw;
    EXPECT_EQ(f.code, "VALIDATION_ERROR") << f.raw;
    EXPECT_NE(f.raw.find(R"("field":")" + field + "\""), std::string::npos) << f.raw;
  };
  ASSERT_TRUE(c->send_text("this is not json"));
  expect_validation("frame");
  ASSERT_TRUE(c->send_text(R"({"type":"dance"})"));
  expect_validation("type");
  ASSERT_TRUE(c->send_text(R"({"prompt":"no type"})"));
  expect_validation("type");
  ASSERT_TRUE(c->send_binary(std::string("\x00\x01\x02", 3)));
  expect_validation("frame");
  ASSERT_TRUE(c->send_text(R"({"type":"subscribe"})"));
  expect_validation("session_id");
  ASSERT_TRUE(c->send_text(R"({"type":"subscribe","session_id":"not-a-uuid"})"));
  expect_validation("session_id");
  ASSERT_TRUE(c->send_text(R"({"type":"prompt","max_turns":0})"));
  auto f = next(*c);
  EXPECT_EQ(f.code, "VALIDATION_ERROR") << f.raw;
  EXPECT_NE(f.raw.find(R"("field":"prompt")"), std::string::npos) << f.raw;
  EXPECT_NE(f.raw.find(R"("field":"max_turns")"), std::string::npos) << f.raw;
  ASSERT_TRUE(c->send_text(R"({"type":"interrupt"})"));
  expect_validation("session_id");  // no session on this connection yet
  ASSERT_TRUE(c->send_text(R"({"type":"ping"})"));
  EXPECT_EQ(next(*c).type, "pong");
}

TEST_F(ws_api_test, another_tenants_session_is_not_found_and_untouched) {
  auto id = new_session(alpha_, "[[echo]] owned by alpha");
  ASSERT_TRUE(eventually([&] { return session_doc(alpha_, id)["total_turns"].GetInt() == 1; }));
  auto c = connect(beta_);
  for (const std::string type : {"subscribe", "interrupt"}) {
    ASSERT_TRUE(c->send_text(R"({"type":")" + type + R"(","session_id":")" + id + "\"}"));
    auto f = next(*c);
    EXPECT_EQ(f.type, "error") << f.raw;
    EXPECT_EQ(f.code, "SESSION_NOT_FOUND") << f.raw;
  }
  ASSERT_TRUE(c->send_text(
      R"({"type":"answer","request_id":"r-1","behavior":"allow","session_id":")" + id + "\"}"));
  EXPECT_EQ(next(*c).code, "SESSION_NOT_FOUND");
  ASSERT_TRUE(c->send_text(R"({"type":"control","model":"haiku","session_id":")" + id + "\"}"));
  EXPECT_EQ(next(*c).code, "SESSION_NOT_FOUND");
  ASSERT_TRUE(
      c->send_text(R"({"type":"prompt","prompt":"[[echo]] hijack","session_id":")" + id + "\"}"));
  auto f = next(*c);
  EXPECT_EQ(f.code, "SESSION_NOT_FOUND") << f.raw;
  ASSERT_TRUE(c->send_text(R"({"type":"ping"})"));
  EXPECT_EQ(next(*c).type, "pong");
  auto after = session_doc(alpha_, id);
  EXPECT_EQ(after["total_turns"].GetInt(), 1);
  EXPECT_EQ(std::string{after["status"].GetString()}, "idle");
}

TEST_F(ws_api_test, answer_and_control_frames_reach_the_connections_session) {
  auto c = connect(alpha_);
  ASSERT_TRUE(c->send_text(R"({"type":"prompt","prompt":"[[echo]] then control"})"));
  auto id = next(*c).session_id;
  ASSERT_EQ(id.size(), 36u);
  until_done(*c, id);
  // Without session_id the frames address the connection's last session.
  ASSERT_TRUE(c->send_text(R"({"type":"control","model":"haiku"})"));
  auto ack = next(*c);
  EXPECT_EQ(ack.type, "ack") << ack.raw;
  EXPECT_EQ(ack.for_type, "control");
  EXPECT_EQ(ack.session_id, id);
  ASSERT_TRUE(c->send_text(R"({"type":"control","model":"haiku","permission_mode":"plan"})"));
  EXPECT_EQ(next(*c).code, "VALIDATION_ERROR");
  ASSERT_TRUE(c->send_text(R"({"type":"answer","request_id":"none-pending","behavior":"deny"})"));
  auto idle = next(*c);
  EXPECT_EQ(idle.type, "error") << idle.raw;
  EXPECT_EQ(idle.code, "SESSION_IDLE") << idle.raw;
  ASSERT_TRUE(c->send_text(R"({"type":"answer","behavior":"maybe"})"));
  EXPECT_EQ(next(*c).code, "VALIDATION_ERROR");
}

TEST_F(ws_api_test, an_interrupt_frame_ends_the_running_turn) {
  auto c = connect(alpha_);
  ASSERT_TRUE(c->send_text(R"({"type":"prompt","prompt":"[[slow 100 200]] long"})"));
  auto frames = read_until(*c, [](const frame& f) { return f.type == "event"; });
  auto id = frames.front().session_id;
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(c->send_text(R"({"type":"interrupt"})"));  // the connection's last session
  auto rest = until_done(*c, id);
  auto acked = std::count_if(rest.begin(), rest.end(), [&](const frame& f) {
    return f.type == "ack" && f.for_type == "interrupt" && f.session_id == id;
  });
  EXPECT_EQ(acked, 1);
  EXPECT_EQ(rest.back().reason, "interrupted") << rest.back().raw;
}

TEST_F(ws_api_test, a_reader_that_stops_reading_is_closed_with_1008_and_the_session_completes) {
  // A small receive buffer and a turn of about 36 MB of events (12 MB of text, then the same as
  // the assistant message and the result): far more than the kernel's socket buffers and the
  // connection's queue absorb, so the subscription waits for room and, taking nothing for
  // STREAM_STALL_TIMEOUT (3 s here) or falling out of the session's memory (8 MB), is cut with
  // 1008 (sent once the client reads again); the session goes on.
  auto c = connect(alpha_, "/api/v1/ws", 4096);
  ASSERT_TRUE(c->send_text(
      R"({"type":"prompt","prompt":"[[large 12000000]]","include_partial_messages":true})"));
  auto ack = next(*c);
  ASSERT_EQ(ack.type, "ack") << ack.raw;
  auto id = ack.session_id;
  // Stop reading until the turn is over.
  ASSERT_TRUE(eventually(
      [&] {
        auto d = session_doc(alpha_, id);
        return d.IsObject() && std::string{d["status"].GetString()} == "idle" &&
               d["total_turns"].GetInt() == 1;
      },
      120s));
  for (int i = 0; i < 10000; ++i) {
    auto m = c->read(60s);
    if (!m.ok) break;
  }
  EXPECT_TRUE(c->closed());
  EXPECT_EQ(c->close_code(), 1008);
  // The session completed: its stored history runs from init to a completed done.
  std::vector<std::string> names;
  std::string last_reason;
  auto read_history = [&] {
    names.clear();
    uint64_t after = 0;
    for (bool more = true; more;) {
      auto page = http_call(port(), "GET",
                            "/api/v1/sessions/" + id + "/events?after=" + std::to_string(after),
                            auth(alpha_));
      auto d = parse_json(page.body);
      if (page.status != 200 || !d.IsObject() || !d["events"].IsArray()) return false;
      for (const auto& e : d["events"].GetArray()) {
        names.push_back(member(e, "event"));
        last_reason = member(e["data"], "reason");
      }
      after = d["next_after"].GetUint64();
      more = d["has_more"].GetBool();
    }
    return !names.empty() && names.back() == "done";
  };
  EXPECT_TRUE(eventually(read_history, 60s));
  ASSERT_GT(names.size(), 2u);
  EXPECT_EQ(names.front(), "init");
  EXPECT_EQ(names.back(), "done");
  EXPECT_EQ(last_reason, "completed");
}
