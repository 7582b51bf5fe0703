// Usage per tenant and spend caps against the service binary, the real CLI and the scripted
// model: `GET /api/v1/usage` adds up (total = sum over groups = the turns' reported costs) and
// never shows another tenant's usage; `PUT /api/v1/tenants/{tenant}/limits` is validated and
// admin-only; a tenant at its daily cap gets 402 BUDGET_EXCEEDED on every turn-starting route
// while another tenant still runs turns; a tenant's own `max_agent_processes` replaces the default
// share of agent processes. Every test makes its own tenants.

#include "tests/integration/session_flow_fixture.hpp"
#include "tests/support/ws_client.hpp"

#include <rapidjson/document.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <set>
#include <thread>

using namespace caa::test;
using namespace std::chrono_literals;

namespace {

/// The sums of a usage object (`total` or a group), as numbers.
struct sums {
  int64_t turns = 0;
  int64_t input_tokens = 0;
  int64_t output_tokens = 0;
  int64_t cache_creation_input_tokens = 0;
  int64_t cache_read_input_tokens = 0;
  double cost_usd = 0;
  int64_t model_requests = 0;

  void add(const sums& o) {
    turns += o.turns;
    input_tokens += o.input_tokens;
    output_tokens += o.output_tokens;
    cache_creation_input_tokens += o.cache_creation_input_tokens;
    cache_read_input_tokens += o.cache_read_input_tokens;
    cost_usd += o.cost_usd;
    model_requests += o.model_requests;
  }
};

sums sums_of(const rapidjson::Value& v) {
  sums s;
  auto i = [&](const char* k) { return v.HasMember(k) ? v[k].GetInt64() : -1; };
  s.turns = i("turns");
  s.input_tokens = i("input_tokens");
  s.output_tokens = i("output_tokens");
  s.cache_creation_input_tokens = i("cache_creation_input_tokens");
  s.cache_read_input_tokens = i("cache_read_input_tokens");
  s.cost_usd = v.HasMember("cost_usd") ? v["cost_usd"].GetDouble() : -1;
  s.model_requests = i("model_requests");
  return s;
}

void expect_same(const sums& a, const sums& b) {
  EXPECT_EQ(a.turns, b.turns);
  EXPECT_EQ(a.input_tokens, b.input_tokens);
  EXPECT_EQ(a.output_tokens, b.output_tokens);
  EXPECT_EQ(a.cache_creation_input_tokens, b.cache_creation_input_tokens);
  EXPECT_EQ(a.cache_read_input_tokens, b.cache_read_input_tokens);
  EXPECT_NEAR(a.cost_usd, b.cost_usd, 1e-9);
  EXPECT_EQ(a.model_requests, b.model_requests);
}

/// The `total_cost_usd` of the stream's `result` event (-1 when none).
double result_cost(const sse_result& r) {
  for (auto& e : r.events)
    if (e.event == "result") {
      auto d = parse_json(e.data);
      if (d.IsObject() && d.HasMember("total_cost_usd") && d["total_cost_usd"].IsNumber())
        return d["total_cost_usd"].GetDouble();
    }
  return -1;
}

/// The field names of a 422's `details.errors`.
std::set<std::string> bad_fields(const std::string& body) {
  std::set<std::string> out;
  auto d = parse_json(body);
  if (!d.IsObject() || !d.HasMember("error")) return out;
  const auto& details = d["error"]["details"];
  if (!details.IsObject() || !details.HasMember("errors")) return out;
  for (auto& e : details["errors"].GetArray()) out.insert(e["field"].GetString());
  return out;
}

/// The `error.code` of an error envelope ("" when none).
std::string code_of(const std::string& body) {
  auto d = parse_json(body);
  return d.IsObject() && d.HasMember("error") && d["error"].HasMember("code")
             ? d["error"]["code"].GetString()
             : "";
}

}  // namespace

class usage_api_test : public session_flow_test {
 protected:
  // A short admission wait (the share test expects a refusal, not a long wait for one) and a
  // known budget.
  static void SetUpTestSuite() {
    // Default share 4. No warm pool: a session that adopts a warm process is granted its slot
    // without the tenant-share check, and whether one is ready depends on timing (seen in CI:
    // the share test got its second process, the cap test waited on pool starts).
    start_suite({{"ADMISSION_WAIT", "2"}, {"MAX_AGENT_PROCESSES", "8"}, {"WARM_POOL_SIZE", "0"}});
  }

  static std::map<std::string, std::string> admin() { return {{"X-API-Key", env_.at("API_KEY")}}; }

  /// An agent key of a new tenant.
  static tenant_key fresh_tenant(const std::string& prefix) {
    auto name = unique_word(prefix);
    auto r = http_call(port(), "POST", "/api/v1/keys", admin(),
                       R"({"tenant":")" + name + R"(","scopes":["agent"],"name":"usage"})");
    auto d = parse_json(r.body);
    if (r.status != 201 || !d.IsObject()) throw std::runtime_error("no key: " + r.body);
    return tenant_key{d["key"].GetString(), d["tenant_id"].GetString()};
  }

  /// GET /api/v1/usage with `query` as `headers`; the parsed body in `*out`.
  static http_result usage(const std::map<std::string, std::string>& headers,
                           const std::string& query, rapidjson::Document* out = nullptr) {
    auto r = http_call(port(), "GET", "/api/v1/usage" + query, headers);
    if (out != nullptr) out->Parse(r.body.c_str());
    return r;
  }

  static http_result put_limits(const std::map<std::string, std::string>& headers,
                                const std::string& tenant_id, const std::string& body) {
    return http_call(port(), "PUT", "/api/v1/tenants/" + tenant_id + "/limits", headers, body);
  }
};

TEST_F(usage_api_test, usage_after_two_turns_adds_up) {
  auto t = fresh_tenant("usage");
  auto a = turn(t, R"({"prompt":"[[echo]] usage one"})");
  auto b = turn(t, R"({"prompt":"[[echo]] usage two"})");
  ASSERT_EQ(done_reason(a), "completed") << a.body;
  ASSERT_EQ(done_reason(b), "completed") << b.body;
  auto cost_a = result_cost(a);
  auto cost_b = result_cost(b);
  ASSERT_GE(cost_a, 0);
  ASSERT_GE(cost_b, 0);
  // A turn's usage row is written right after its `done` event: wait until both are stored.
  EXPECT_TRUE(eventually([&] {
    rapidjson::Document d;
    return usage(auth(t), "", &d).status == 200 && sums_of(d["total"]).turns == 2;
  }));
  for (const char* by : {"session", "day", "model"}) {
    SCOPED_TRACE(by);
    rapidjson::Document d;
    auto r = usage(auth(t), std::string{"?group_by="} + by, &d);
    ASSERT_EQ(r.status, 200u) << r.body;
    EXPECT_EQ(std::string{d["tenant_id"].GetString()}, t.tenant_id);
    EXPECT_EQ(std::string{d["group_by"].GetString()}, by);
    auto total = sums_of(d["total"]);
    EXPECT_EQ(total.turns, 2);
    EXPECT_NEAR(total.cost_usd, cost_a + cost_b, 1e-9) << "the turns' reported costs";
    sums sum;
    for (auto& g : d["groups"].GetArray()) sum.add(sums_of(g));
    expect_same(sum, total);
    if (std::string{by} == "session") {
      std::set<std::string> keys;
      for (auto& g : d["groups"].GetArray()) keys.insert(g["key"].GetString());
      EXPECT_EQ(keys, (std::set<std::string>{session_of(a), session_of(b)}));
    }
  }
}

TEST_F(usage_api_test, another_tenant_sees_none_of_it_and_may_not_ask_for_it) {
  auto first = fresh_tenant("usage-first");
  auto second = fresh_tenant("usage-second");
  auto a = turn(first, R"({"prompt":"[[echo]] isolated"})");
  ASSERT_EQ(done_reason(a), "completed") << a.body;
  EXPECT_TRUE(eventually([&] {
    rapidjson::Document mine;
    return usage(auth(first), "", &mine).status == 200 && sums_of(mine["total"]).turns == 1;
  }));
  rapidjson::Document d;
  ASSERT_EQ(usage(auth(second), "?group_by=session", &d).status, 200u);
  EXPECT_EQ(sums_of(d["total"]).turns, 0);
  EXPECT_EQ(sums_of(d["total"]).cost_usd, 0);
  EXPECT_EQ(d["groups"].Size(), 0u);
  // An agent key naming another tenant: 403, not that tenant's usage.
  auto other = usage(auth(second), "?tenant=" + first.tenant_id);
  EXPECT_EQ(other.status, 403u) << other.body;
  EXPECT_EQ(code_of(other.body), "FORBIDDEN");
  // Naming its own tenant is fine; an admin key may name any tenant.
  EXPECT_EQ(usage(auth(second), "?tenant=" + second.tenant_id).status, 200u);
  ASSERT_EQ(usage(admin(), "?tenant=" + first.tenant_id, &d).status, 200u);
  EXPECT_EQ(sums_of(d["total"]).turns, 1);
}

TEST_F(usage_api_test, bad_usage_parameters_are_listed) {
  auto t = fresh_tenant("usage-bad");
  auto r = usage(auth(t), "?from=yesterday&to=2026-13-01&group_by=week&tenant=x");
  EXPECT_EQ(r.status, 422u) << r.body;
  EXPECT_EQ(bad_fields(r.body), (std::set<std::string>{"from", "to", "group_by", "tenant"}));
  r = usage(auth(t), "?from=2026-05-02&to=2026-05-01T00:00:00Z");
  EXPECT_EQ(r.status, 422u) << r.body;
  EXPECT_EQ(bad_fields(r.body), (std::set<std::string>{"to"}));
  rapidjson::Document d;
  r = usage(auth(t), "?from=2026-05-01&to=2026-05-01", &d);
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(std::string{d["from"].GetString()}, "2026-05-01T00:00:00.000Z");
  EXPECT_EQ(std::string{d["to"].GetString()}, "2026-05-02T00:00:00.000Z") << "a date is a day";
}

TEST_F(usage_api_test, limits_are_validated_and_admin_only) {
  auto t = fresh_tenant("limits");
  auto bad = put_limits(admin(), t.tenant_id,
                        R"({"monthly_usd":-1,"daily_usd":"x","max_agent_processes":1.5,)"
                        R"("hard":"yes","other":1})");
  EXPECT_EQ(bad.status, 422u) << bad.body;
  EXPECT_EQ(bad_fields(bad.body), (std::set<std::string>{"monthly_usd", "daily_usd",
                                                         "max_agent_processes", "hard", "other"}));
  auto agent = put_limits(auth(t), t.tenant_id, R"({"daily_usd":1})");
  EXPECT_EQ(agent.status, 403u) << agent.body;
  EXPECT_EQ(http_call(port(), "GET", "/api/v1/tenants/" + t.tenant_id + "/limits", auth(t)).status,
            403u);
  auto unknown = put_limits(admin(), "00000000-0000-4000-8000-000000000000", R"({"daily_usd":1})");
  EXPECT_EQ(unknown.status, 404u) << unknown.body;
  EXPECT_EQ(put_limits(admin(), "not-a-uuid", "{}").status, 422u);
  auto ok =
      put_limits(admin(), t.tenant_id,
                 R"({"monthly_usd":50,"daily_usd":null,"max_agent_processes":2,"hard":true})");
  ASSERT_EQ(ok.status, 200u) << ok.body;
  auto got = http_call(port(), "GET", "/api/v1/tenants/" + t.tenant_id + "/limits", admin());
  ASSERT_EQ(got.status, 200u) << got.body;
  auto d = parse_json(got.body);
  EXPECT_EQ(d["monthly_usd"].GetDouble(), 50);
  EXPECT_TRUE(d["daily_usd"].IsNull());
  EXPECT_EQ(d["max_agent_processes"].GetInt(), 2);
  EXPECT_TRUE(d["hard"].GetBool());
}

TEST_F(usage_api_test, a_tenant_at_its_daily_cap_gets_402_while_another_runs_turns) {
  auto capped = fresh_tenant("capped");
  auto free = fresh_tenant("uncapped");
  ASSERT_EQ(put_limits(admin(), capped.tenant_id, R"({"daily_usd":0.000001})").status, 200u);
  auto first = turn(capped, R"({"prompt":"[[echo]] under the cap"})");
  ASSERT_EQ(done_reason(first), "completed") << first.body;
  ASSERT_GT(result_cost(first), 0.000001) << "the scripted turn must cost something";
  auto id = session_of(first);
  // The turn's ledger row is written right after its `done` (DECISIONS: the overshoot window
  // of a cap across sessions); a new session's check sees it once it is stored.
  ASSERT_TRUE(eventually([&] {
    rapidjson::Document d;
    usage(auth(capped), "", &d);
    return d.IsObject() && d.HasMember("total") && d["total"]["turns"].GetInt64() >= 1;
  }));

  auto refused = turn(capped, R"({"prompt":"[[echo]] over the cap"})");
  EXPECT_EQ(refused.status, 402u) << refused.body;
  EXPECT_TRUE(refused.events.empty()) << "no stream byte before the check";
  auto d = parse_json(refused.body);
  ASSERT_TRUE(d.IsObject()) << refused.body;
  EXPECT_EQ(std::string{d["error"]["code"].GetString()}, "BUDGET_EXCEEDED");
  EXPECT_NE(std::string{d["error"]["message"].GetString()}.find("daily"), std::string::npos);
  std::string resets = d["error"]["details"]["resets_at"].GetString();
  EXPECT_EQ(resets.substr(10), "T00:00:00.000Z") << resets;
  EXPECT_EQ(std::string{d["error"]["details"]["cap"].GetString()}, "daily_usd");

  // Every turn-starting route refuses it.
  auto single = http_call(port(), "POST", "/api/v1/query/single", auth(capped),
                          R"({"prompt":"[[echo]] single"})");
  EXPECT_EQ(single.status, 402u) << single.body;
  auto resume =
      turn(capped, R"({"prompt":"[[echo]] resume"})", "/api/v1/sessions/" + id + "/resume");
  EXPECT_EQ(resume.status, 402u) << resume.body;
  auto fork = turn(capped, R"({"prompt":"[[echo]] fork"})", "/api/v1/sessions/" + id + "/fork");
  EXPECT_EQ(fork.status, 402u) << fork.body;
  // A refused turn creates no session: not a new one, not a fork.
  auto list = http_call(port(), "GET", "/api/v1/sessions", auth(capped));
  EXPECT_EQ(parse_json(list.body)["total"].GetUint64(), 1u) << list.body;
  ws_client ws;
  ASSERT_EQ(ws.connect(port(), "/api/v1/ws", auth(capped)).status, 101u);
  ASSERT_TRUE(ws.send_text(R"({"type":"prompt","prompt":"[[echo]] websocket"})"));
  auto frame = ws.read(30s);
  ASSERT_TRUE(frame.ok);
  EXPECT_NE(frame.text.find("BUDGET_EXCEEDED"), std::string::npos) << frame.text;
  // The OpenAI-compatible turns too, in OpenAI's error shape.
  auto chat = http_call(port(), "POST", "/v1/chat/completions", auth(capped),
                        R"({"model":"sonnet","messages":[{"role":"user","content":"x"}]})");
  EXPECT_EQ(chat.status, 402u) << chat.body;
  auto openai = parse_json(chat.body);
  ASSERT_TRUE(openai.IsObject() && openai.HasMember("error")) << chat.body;
  EXPECT_EQ(std::string{openai["error"]["type"].GetString()}, "insufficient_quota");
  EXPECT_EQ(std::string{openai["error"]["code"].GetString()}, "budget_exceeded");
  auto response = http_call(port(), "POST", "/v1/responses", auth(capped),
                            R"({"model":"sonnet","input":"x","background":true})");
  EXPECT_EQ(response.status, 402u) << response.body;

  // Another tenant is not affected.
  auto other = turn(free, R"({"prompt":"[[echo]] not capped"})");
  EXPECT_EQ(done_reason(other), "completed") << other.body;

  // Lifting the cap lets the tenant run again.
  ASSERT_EQ(put_limits(admin(), capped.tenant_id, R"({"daily_usd":null})").status, 200u);
  auto again = turn(capped, R"({"prompt":"[[echo]] cap lifted"})");
  EXPECT_EQ(done_reason(again), "completed") << again.body;
}

TEST_F(usage_api_test, a_tenants_own_share_of_processes_replaces_the_default) {
  auto t = fresh_tenant("share");
  ASSERT_EQ(put_limits(admin(), t.tenant_id, R"({"max_agent_processes":1})").status, 200u);
  // One slow turn holds the tenant's only process while a second session asks for one.
  std::atomic<bool> started{false};
  sse_result slow;
  std::thread runner{[&] {
    slow = sse_call(port(), "POST", "/api/v1/query", auth(t), R"({"prompt":"[[slow 80 100]]"})",
                    [&](const sse_event& e) {
                      if (e.event == "init") started = true;
                      return false;
                    });
  }};
  EXPECT_TRUE(eventually([&] { return started.load(); }, 30s));
  auto refused = turn(t, R"({"prompt":"[[echo]] a second process"})");
  EXPECT_EQ(refused.status, 429u) << refused.body;
  EXPECT_EQ(code_of(refused.body), "TENANT_CAPACITY");
  runner.join();
  EXPECT_EQ(done_reason(slow), "completed") << slow.body;
  // Without its own share, the default (more than one) applies again.
  ASSERT_EQ(put_limits(admin(), t.tenant_id, "{}").status, 200u);
  std::atomic<bool> again{false};
  std::thread second{[&] {
    slow = sse_call(port(), "POST", "/api/v1/query", auth(t), R"({"prompt":"[[slow 40 100]]"})",
                    [&](const sse_event& e) {
                      if (e.event == "init") again = true;
                      return false;
                    });
  }};
  EXPECT_TRUE(eventually([&] { return again.load(); }, 30s));
  auto allowed = turn(t, R"({"prompt":"[[echo]] a second process again"})");
  EXPECT_EQ(done_reason(allowed), "completed") << allowed.body;
  second.join();
}

TEST_F(usage_api_test, a_hard_cap_stops_a_running_turn_with_budget_reached) {
  auto t = fresh_tenant("hard");
  // What one model call costs here: a turn of one call, without a cap.
  auto probe = turn(t, R"({"prompt":"[[echo]] the price of a call"})");
  ASSERT_EQ(done_reason(probe), "completed") << probe.body;
  double call = result_cost(probe);
  ASSERT_GT(call, 0);
  ASSERT_TRUE(eventually([&] {
    rapidjson::Document d;
    return usage(auth(t), "", &d).status == 200 && sums_of(d["total"]).turns == 1;
  }));
  // Room for about three more calls: a chain of twenty cannot finish under it. The same session
  // goes on: its process (started without a bound) must be replaced by one bounded by the cap.
  double limit = 4 * call;
  char body[96];
  std::snprintf(body, sizeof(body), R"({"daily_usd":%.9f,"hard":true})", limit);
  ASSERT_EQ(put_limits(admin(), t.tenant_id, body).status, 200u);
  auto id = session_of(probe);
  auto capped =
      turn(t, R"({"prompt":"[[chain 20]]","allowed_tools":["Bash"],"session_id":")" + id + "\"}");
  ASSERT_EQ(capped.status, 200u) << capped.body;
  ASSERT_GE(capped.events.size(), 3u) << capped.body;
  EXPECT_EQ(done_reason(capped), "interrupted") << capped.body;
  const auto& last = capped.events[capped.events.size() - 2];
  ASSERT_EQ(last.event, "budget_reached") << capped.body;
  auto reached = parse_json(last.data);
  ASSERT_TRUE(reached.IsObject()) << last.data;
  EXPECT_EQ(std::string{reached["cap"].GetString()}, "daily_usd");
  EXPECT_NEAR(reached["limit_usd"].GetDouble(), limit, 1e-9);
  EXPECT_GE(reached["spent_usd"].GetDouble(), limit);
  EXPECT_EQ(std::string{reached["resets_at"].GetString()}.substr(10), "T00:00:00.000Z");
  int steps = 0;
  for (auto& e : capped.events)
    if (e.event == "message" && e.data.find("\"tool_use\"") != std::string::npos &&
        e.data.find("step-") != std::string::npos)
      ++steps;
  EXPECT_GE(steps, 1) << "the turn ran before the cap stopped it";
  EXPECT_LT(steps, 20) << "the cap stopped the chain";
  // The ledger: spent past the cap by at most about one call.
  rapidjson::Document d;
  ASSERT_TRUE(eventually(
      [&] { return usage(auth(t), "", &d).status == 200 && sums_of(d["total"]).turns == 2; }));
  auto spent = sums_of(d["total"]).cost_usd;
  EXPECT_GE(spent, limit);
  EXPECT_LT(spent, limit + 3 * call) << "overshoot of more than one call";
  // The cap holds for the next turn (402), and lifting it lets the session run again.
  auto next = turn(t, R"({"prompt":"[[echo]] over","session_id":")" + id + "\"}");
  EXPECT_EQ(next.status, 402u) << next.body;
  ASSERT_EQ(put_limits(admin(), t.tenant_id, "{}").status, 200u);
  auto again = turn(t, R"({"prompt":"[[echo]] lifted","session_id":")" + id + "\"}");
  EXPECT_EQ(done_reason(again), "completed") << again.body;
  // A process that reached its bound fails every later turn at once: this one is new.
  bool success = false;
  for (auto& e : again.events)
    if (e.event == "result") success = e.data.find(R"("subtype":"success")") != std::string::npos;
  EXPECT_TRUE(success) << again.body;
}
