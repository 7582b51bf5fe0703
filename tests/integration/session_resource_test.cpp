// Black-box tests of the session resource: event history as JSON pages and as an attached SSE
// stream (exact Last-Event-ID replay, then live), tenancy (another tenant's session is 404 on
// every route), refused paths and env names (422 before any process), list, get and delete.

#include "tests/integration/session_flow_fixture.hpp"

#include <thread>

using namespace caa::test;
using namespace std::chrono_literals;

namespace {

std::map<std::string, std::string> with(std::map<std::string, std::string> h,
                                        const std::string& name, const std::string& value) {
  h[name] = value;
  return h;
}

std::size_t log_size(const std::string& log) {
  auto d = parse_json(log);
  return d.IsArray() ? d.Size() : 0;
}

TEST_F(session_flow_test, events_are_paged_and_replayed_exactly_after_last_event_id) {
  auto r = turn(alpha_, R"({"prompt":"[[echo]] history"})");
  ASSERT_EQ(r.status, 200u) << r.body;
  auto id = session_of(r);
  ASSERT_GE(r.events.size(), 4u);
  auto base = "/api/v1/sessions/" + id + "/events";
  auto all = parse_json(http_call(port(), "GET", base + "?limit=1000", auth(alpha_)).body);
  ASSERT_TRUE(all.IsObject());
  ASSERT_EQ(all["events"].Size(), r.events.size());
  for (rapidjson::SizeType i = 0; i < all["events"].Size(); ++i) {
    EXPECT_EQ(std::to_string(all["events"][i]["id"].GetUint64()), r.events[i].id);
    EXPECT_EQ(all["events"][i]["event"].GetString(), r.events[i].event);
    EXPECT_TRUE(all["events"][i]["data"].IsObject());
  }
  EXPECT_FALSE(all["has_more"].GetBool());
  auto page = parse_json(http_call(port(), "GET", base + "?limit=2", auth(alpha_)).body);
  ASSERT_EQ(page["events"].Size(), 2u);
  EXPECT_TRUE(page["has_more"].GetBool());
  EXPECT_EQ(std::to_string(page["next_after"].GetUint64()), r.events[1].id);
  auto bad = http_call(port(), "GET", base + "?limit=0", auth(alpha_));
  EXPECT_EQ(bad.status, 422u);

  // SSE attach after event #2: exactly the missed events, in order.
  auto sse = with(auth(alpha_), "Accept", "text/event-stream");
  auto last = r.events.back().id;
  auto replay = sse_call(
      port(), "GET", base, with(sse, "Last-Event-ID", r.events[1].id), {},
      [&](const sse_event& e) { return e.id == last; }, 30s);
  ASSERT_EQ(replay.status, 200u) << replay.body;
  ASSERT_EQ(replay.events.size(), r.events.size() - 2);
  for (std::size_t i = 0; i < replay.events.size(); ++i) {
    EXPECT_EQ(replay.events[i].id, r.events[i + 2].id);
    EXPECT_EQ(replay.events[i].event, r.events[i + 2].event);
  }
  // `after` works like Last-Event-ID.
  auto from_query = sse_call(
      port(), "GET", base + "?after=" + r.events[2].id, sse, {},
      [&](const sse_event& e) { return e.id == last; }, 30s);
  EXPECT_EQ(from_query.events.size(), r.events.size() - 3);
}

TEST_F(session_flow_test, an_attached_stream_replays_then_follows_later_turns) {
  auto id = new_session(alpha_, "[[echo]] attach first");
  auto base = "/api/v1/sessions/" + id + "/events";
  std::atomic<bool> replayed{false};
  sse_result attached;
  std::thread reader{[&] {
    int dones = 0;
    attached = sse_call(
        port(), "GET", base, with(auth(alpha_), "Accept", "text/event-stream"), {},
        [&](const sse_event& e) {
          if (e.event == "done" && ++dones == 1) replayed = true;
          return dones == 2;  // the second turn's done
        },
        60s);
  }};
  ASSERT_TRUE(eventually([&] { return replayed.load(); }, 30s));
  auto second = turn(alpha_, R"({"prompt":"[[echo]] attach second","session_id":")" + id + "\"}");
  ASSERT_EQ(second.status, 200u);
  reader.join();
  ASSERT_FALSE(attached.events.empty());
  EXPECT_EQ(attached.events.front().id, "1");
  for (std::size_t i = 1; i < attached.events.size(); ++i)
    EXPECT_EQ(std::stoull(attached.events[i].id), std::stoull(attached.events[i - 1].id) + 1)
        << "no gap and no duplicate between replay and live";
  EXPECT_EQ(attached.events.back().id, second.events.back().id);
}

TEST_F(session_flow_test, another_tenants_session_is_not_found_on_every_route) {
  auto id = new_session(alpha_, "[[echo]] private");
  auto s = "/api/v1/sessions/" + id;
  auto body = R"({"prompt":"steal","session_id":")" + id + "\"}";
  auto sse = with(auth(beta_), "Accept", "text/event-stream");
  std::vector<http_result> answers{
      http_call(port(), "GET", s, auth(beta_)),
      http_call(port(), "DELETE", s, auth(beta_)),
      http_call(port(), "GET", s + "/events", auth(beta_)),
      http_call(port(), "GET", s + "/events", sse),
      http_call(port(), "POST", s + "/resume", auth(beta_), R"({"prompt":"steal"})"),
      http_call(port(), "POST", s + "/fork", auth(beta_), R"({"prompt":"steal"})"),
      http_call(port(), "POST", s + "/interrupt", auth(beta_)),
      http_call(port(), "POST", "/api/v1/query", auth(beta_), body),
      http_call(port(), "POST", "/api/v1/query/single", auth(beta_), body),
  };
  for (std::size_t i = 0; i < answers.size(); ++i) {
    EXPECT_EQ(answers[i].status, 404u) << "route #" << i << ": " << answers[i].body;
    EXPECT_NE(answers[i].body.find("\"code\":\"SESSION_NOT_FOUND\""), std::string::npos) << i;
  }
  auto missing = http_call(port(), "GET", "/api/v1/sessions/00000000-0000-4000-8000-000000000000",
                           auth(alpha_));
  EXPECT_EQ(missing.body, answers[0].body) << "indistinguishable from a missing session";
  EXPECT_EQ(status_of(alpha_, id).empty(), false) << "the owner still has it";
  auto list = http_call(port(), "GET", "/api/v1/sessions?page_size=100", auth(beta_));
  EXPECT_EQ(list.body.find(id), std::string::npos);
}

TEST_F(session_flow_test, refused_paths_and_env_names_spawn_nothing) {
  auto sessions_before = http_call(port(), "GET", "/api/v1/sessions", auth(beta_)).body;
  auto model_before = log_size(model_log());
  auto cwd =
      http_call(port(), "POST", "/api/v1/query", auth(beta_), R"({"prompt":"hi","cwd":"../x"})");
  EXPECT_EQ(cwd.status, 422u) << cwd.body;
  EXPECT_NE(cwd.body.find("\"field\":\"cwd\""), std::string::npos) << cwd.body;
  auto env = http_call(port(), "POST", "/api/v1/query", auth(beta_),
                       R"({"prompt":"hi","env":{"LD_PRELOAD":"/tmp/x.so"}})");
  EXPECT_EQ(env.status, 422u) << env.body;
  EXPECT_NE(env.body.find("LD_PRELOAD"), std::string::npos) << env.body;
  auto single = http_call(port(), "POST", "/api/v1/query/single", auth(beta_),
                          R"({"prompt":"hi","add_dirs":["/etc"]})");
  EXPECT_EQ(single.status, 422u) << single.body;
  auto sessions_after = parse_json(http_call(port(), "GET", "/api/v1/sessions", auth(beta_)).body);
  EXPECT_EQ(sessions_after["total"].GetUint64(), parse_json(sessions_before)["total"].GetUint64());
  EXPECT_EQ(log_size(model_log()), model_before) << "no CLI process talked to the model";
  auto root = std::filesystem::path{env_["WORKSPACE_ROOT"]};
  EXPECT_FALSE(std::filesystem::exists(root / beta_.tenant_id / "x"));
  EXPECT_FALSE(std::filesystem::exists(root / "x"));
}

TEST_F(session_flow_test, sessions_are_listed_read_and_deleted) {
  auto first = new_session(beta_, "[[echo]] list one");
  auto second = new_session(beta_, "[[echo]] list two");
  auto list =
      parse_json(http_call(port(), "GET", "/api/v1/sessions?page=1&page_size=1", auth(beta_)).body);
  ASSERT_TRUE(list.IsObject());
  ASSERT_EQ(list["sessions"].Size(), 1u);
  EXPECT_STREQ(list["sessions"][0]["id"].GetString(), second.c_str()) << "newest first";
  EXPECT_GE(list["total"].GetUint64(), 2u);
  EXPECT_EQ(list["page_size"].GetInt(), 1);
  EXPECT_EQ(http_call(port(), "GET", "/api/v1/sessions?status=bogus", auth(beta_)).status, 422u);
  EXPECT_EQ(http_call(port(), "GET", "/api/v1/sessions?page_size=101", auth(beta_)).status, 422u);
  auto got = http_call(port(), "GET", "/api/v1/sessions/" + first, auth(beta_));
  ASSERT_EQ(got.status, 200u);
  auto s = parse_json(got.body);
  EXPECT_STREQ(s["id"].GetString(), first.c_str());
  EXPECT_STREQ(s["cwd"].GetString(), ".");
  EXPECT_EQ(s["total_turns"].GetInt(), 1);
  EXPECT_TRUE(s["usage"].IsObject());
  for (auto key : {"status", "created_at", "updated_at", "total_cost_usd", "tags"})
    EXPECT_TRUE(s.HasMember(key)) << key;
  auto del = http_call(port(), "DELETE", "/api/v1/sessions/" + first, auth(beta_));
  EXPECT_EQ(del.status, 204u) << del.body;
  EXPECT_EQ(http_call(port(), "GET", "/api/v1/sessions/" + first, auth(beta_)).status, 404u);
  EXPECT_EQ(http_call(port(), "GET", "/api/v1/sessions/" + first + "/events", auth(beta_)).status,
            404u);
  EXPECT_EQ(http_call(port(), "GET", "/api/v1/sessions/not-a-uuid", auth(beta_)).status, 422u);
  auto caps = parse_json(http_call(port(), "GET", "/api/v1/capabilities", auth(beta_)).body);
  ASSERT_TRUE(caps.IsObject());
  EXPECT_TRUE(caps.HasMember("engine") && caps["engine"].IsObject());
}

TEST_F(session_flow_test, a_live_sessions_reads_follow_its_turns_controls_and_delete) {
  // The session stays live here (its actor answers reads from memory between changes): every
  // read must still show what PostgreSQL holds after the change before it.
  auto id = new_session(beta_, "[[echo]] read me");
  auto read = [&] {
    auto r = http_call(port(), "GET", "/api/v1/sessions/" + id, auth(beta_));
    EXPECT_EQ(r.status, 200u) << r.body;
    return parse_json(r.body);
  };
  auto last_id = [](const sse_result& r) {
    return r.events.empty() ? 0 : std::stoull(r.events.back().id);
  };
  // The turn's end is written right after its `done`: a read before that shows no turn yet.
  ASSERT_TRUE(eventually([&] { return read()["total_turns"].GetInt() == 1; }));
  auto a = read();
  auto again = read();  // a second read, from memory: the same document
  EXPECT_EQ(a["total_turns"].GetInt(), 1);
  EXPECT_EQ(a["updated_at"].GetString(), std::string{again["updated_at"].GetString()});
  EXPECT_EQ(a["last_event_id"].GetUint64(), again["last_event_id"].GetUint64());
  auto second =
      turn(beta_, R"({"prompt":"[[echo]] read me again"})", "/api/v1/sessions/" + id + "/resume");
  ASSERT_EQ(done_reason(second), "completed") << second.body;
  // The turn's end is written right after its `done`: the read after it shows both turns.
  ASSERT_TRUE(eventually([&] { return read()["total_turns"].GetInt() == 2; }));
  auto b = read();
  EXPECT_EQ(b["last_event_id"].GetUint64(), last_id(second));
  EXPECT_GT(b["total_cost_usd"].GetDouble(), a["total_cost_usd"].GetDouble());
  EXPECT_EQ(b["status"].GetString(), std::string{"idle"});
  // A control change is a write of the actor too.
  auto mode = http_call(port(), "POST", "/api/v1/sessions/" + id + "/control", auth(beta_),
                        R"({"type":"permission_mode_change","permission_mode":"acceptEdits"})");
  ASSERT_EQ(mode.status, 200u) << mode.body;
  EXPECT_EQ(read()["permission_mode"].GetString(), std::string{"acceptEdits"});
  // Another tenant's read of it is not found, live or not.
  EXPECT_EQ(http_call(port(), "GET", "/api/v1/sessions/" + id, auth(alpha_)).status, 404u);
  ASSERT_EQ(http_call(port(), "DELETE", "/api/v1/sessions/" + id, auth(beta_)).status, 204u);
  EXPECT_EQ(http_call(port(), "GET", "/api/v1/sessions/" + id, auth(beta_)).status, 404u);
}

}  // namespace
