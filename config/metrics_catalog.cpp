#include "config/metrics_catalog.hpp"

#include "config/version.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>

namespace caa::metrics {

namespace {

/// Request durations: from a millisecond to half an hour (streams last long).
constexpr std::array<double, 16> request_bounds{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                                1,     2.5,   5,    10,    30,   60,  300,  1800};

/// Admission waits: 0 is "granted at once"; ADMISSION_WAIT is 10 s by default.
constexpr std::array<double, 12> wait_bounds{0, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60};

/// Events per INSERT (the writer's batches are at most 1000 events by default).
constexpr std::array<double, 10> batch_bounds{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000};

/// Reads per pipeline of the PostgreSQL pool (at most 32).
constexpr std::array<double, 6> pipeline_bounds{1, 2, 4, 8, 16, 32};

/// Persistence lag: one commit is about a millisecond on a quiet machine.
constexpr std::array<double, 13> lag_bounds{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                            0.25,  0.5,    1,     2.5,  5,     10};

/// How many label sets each family keeps apart.
constexpr std::size_t route_series = 512;  // templates x methods x statuses actually seen
constexpr std::size_t route_histograms = 128;
constexpr std::size_t exit_series = 16;
constexpr std::size_t hook_series = 32;
constexpr std::size_t hook_failure_series = 128;

const std::array<label, 0> no_labels{};

void write_gauge(text_writer& w, std::string_view name, std::string_view help, const gauge& g) {
  w.declare(name, "gauge", help);
  w.sample(name, no_labels, g.value());
}

void write_counter(text_writer& w, std::string_view name, std::string_view help, const counter& c) {
  w.declare(name, "counter", help);
  w.sample(name, no_labels, c.value());
}

void write_histogram(text_writer& w, std::string_view name, std::string_view help,
                     const histogram& h) {
  w.declare(name, "histogram", help);
  w.write(name, no_labels, h);
}

void write_http(text_writer& w, const service_metrics& m) {
  write_family(w, "caa_http_requests_total", "counter",
               "HTTP requests answered, by route template, method and status.", m.http_requests);
  write_family(w, "caa_http_request_duration_seconds", "histogram",
               "Time from the first byte of a request to the last byte of its response (a "
               "stream's whole life), by route template.",
               m.http_request_seconds);
}

void write_sessions(text_writer& w, const service_metrics& m) {
  auto running = std::max<int64_t>(m.sessions_running.value(), 0);
  auto idle = std::max<int64_t>(m.sessions_idle.value(), 0);
  auto hibernated = std::max<int64_t>(m.sessions_loaded.value() - running - idle, 0);
  w.declare("caa_sessions", "gauge",
            "Sessions in memory by state: running (a turn holds a process slot), idle (a "
            "process waits for the next turn), hibernated (no process).");
  for (auto [state, n] : {std::pair{"running", running}, std::pair{"idle", idle},
                          std::pair{"hibernated", hibernated}}) {
    std::array<label, 1> l{label{"state", state}};
    w.sample("caa_sessions", l, n);
  }
  write_gauge(w, "caa_sessions_loaded", "Session actors in memory.", m.sessions_loaded);
}

void write_processes(text_writer& w, const service_metrics& m) {
  write_gauge(w, "caa_agent_processes_live", "Agent CLI processes spawned and not yet reaped.",
              m.agent_processes_live);
  write_gauge(w, "caa_agent_processes_starting",
              "Live agent CLI processes that have not written their first line yet.",
              m.agent_processes_starting);
  write_gauge(w, "caa_agent_processes_warm",
              "Agent CLI processes started ahead of any session (warm pool).",
              m.agent_processes_warm);
  write_gauge(w, "caa_agent_process_budget", "Most live agent CLI processes (MAX_AGENT_PROCESSES).",
              m.agent_process_budget);
  write_gauge(w, "caa_agent_process_slots_held", "Process budget slots held by sessions.",
              m.agent_process_slots_held);
  write_family(w, "caa_cli_exits_total", "counter",
               "Agent CLI processes reaped, by exit code (128+N: killed by signal N).",
               m.cli_exits);
}

void write_admission(text_writer& w, const service_metrics& m) {
  write_gauge(w, "caa_admission_queue_depth", "Turns waiting for an agent process slot.",
              m.admission_queue_depth);
  write_gauge(w, "caa_admission_starting",
              "Agent processes granted a start that have not written a line yet.",
              m.admission_starting);
  write_histogram(w, "caa_admission_wait_seconds",
                  "Time a turn waited for its process slot (0: granted at once).",
                  m.admission_wait_seconds);
  write_counter(w, "caa_admission_granted_total", "Agent process slots granted.",
                m.admission_granted);
  write_counter(w, "caa_admission_refused_total",
                "Turns refused with 503 after waiting ADMISSION_WAIT for a slot.",
                m.admission_refused);
}

void write_events(text_writer& w, const service_metrics& m) {
  write_counter(w, "caa_events_streamed_total", "Session events handed to client subscriptions.",
                m.events_streamed);
  write_counter(w, "caa_subscriber_drops_total",
                "Client subscriptions dropped because they refused an event (too slow or gone).",
                m.subscriber_drops);
  write_counter(w, "caa_stream_catch_ups_total",
                "Client streams that fell behind a session's memory and went on from PostgreSQL.",
                m.stream_catch_ups);
  write_counter(w, "caa_events_persisted_total", "Session events committed to PostgreSQL.",
                m.events_persisted);
  write_histogram(w, "caa_event_batch_events", "Events per committed INSERT of the event writer.",
                  m.event_batch_events);
  write_histogram(w, "caa_event_persist_lag_seconds",
                  "Commit of an event batch minus the queueing of its oldest event.",
                  m.event_persist_lag_seconds);
  write_counter(w, "caa_event_write_failures_total",
                "Event append requests answered with an error (the session retries).",
                m.event_write_failures);
  write_histogram(w, "caa_db_pipeline_reads",
                  "Reads the PostgreSQL pool sent together in one pipeline (one round trip).",
                  m.db_pipeline_reads);
}

void write_rate_limits(text_writer& w, const service_metrics& m) {
  w.declare("caa_rate_limit_sync_rounds_total", "counter",
            "Reconciliations of this node's rate-limit buckets with Redis, by outcome: ok (every "
            "call answered), failed (the buckets decided alone).");
  for (auto [outcome, c] :
       {std::pair{"ok", &m.rate_limit_sync_ok}, std::pair{"failed", &m.rate_limit_sync_failed}}) {
    std::array<label, 1> l{label{"outcome", outcome}};
    w.sample("caa_rate_limit_sync_rounds_total", l, c->value());
  }
  write_gauge(w, "caa_rate_limit_sync_buckets",
              "Rate-limit buckets the latest reconciliation reported (0: none was used).",
              m.rate_limit_sync_buckets);
}

void write_webhooks(text_writer& w, const service_metrics& m) {
  write_family(w, "caa_webhook_calls_total", "counter", "Webhook POSTs attempted, by hook event.",
               m.webhook_calls);
  write_family(w, "caa_webhook_failures_total", "counter",
               "Webhook POSTs that failed, by hook event and reason.", m.webhook_failures);
}

void write_tenants(text_writer& w, const service_metrics& m) {
  write_family(w, "caa_tenant_turns_total", "counter",
               "Finished turns by tenant (the first tenants apart, the rest as \"other\").",
               m.tenant_turns);
  w.declare("caa_tenant_cost_usd_total", "counter",
            "The cost of finished turns as the CLI reported it (USD), by tenant.");
  m.tenant_cost_microusd.for_each([&](const auto& values, const counter& c) {
    std::array<label, 1> l{label{"tenant", values[0]}};
    w.sample("caa_tenant_cost_usd_total", l, format_value(static_cast<double>(c.value()) / 1e6));
  });
  write_family(w, "caa_tenant_tokens_total", "counter",
               "Tokens of finished turns by tenant and kind (input, output, cache_creation, "
               "cache_read).",
               m.tenant_tokens);
  write_family(w, "caa_tenant_model_requests_total", "counter",
               "Model requests the sandbox's model proxy forwarded, by tenant.",
               m.tenant_model_requests);
}

}  // namespace

service_metrics::service_metrics()
    : http_requests({"route", "method", "status"}, route_series),
      http_request_seconds({"route"}, route_histograms, std::span<const double>{request_bounds}),
      cli_exits({"code"}, exit_series),
      admission_wait_seconds(wait_bounds),
      event_batch_events(batch_bounds),
      event_persist_lag_seconds(lag_bounds),
      db_pipeline_reads(pipeline_bounds),
      webhook_calls({"event"}, hook_series),
      webhook_failures({"event", "reason"}, hook_failure_series),
      tenant_turns({"tenant"}, tenant_series),
      tenant_cost_microusd({"tenant"}, tenant_series),
      tenant_tokens({"tenant", "kind"}, tenant_series * 4),
      tenant_model_requests({"tenant"}, tenant_series) {}

service_metrics& service() noexcept {
  // Never destroyed, on purpose (threads may still count during exit). Allocation failure at
  // start-up ends the process like any other: nothing to handle.
  static auto* const instance =
      new service_metrics();  // NOLINT(bugprone-unhandled-exception-at-new)
  return *instance;
}

std::string render(const service_metrics& m) {
  text_writer w;
  w.declare("caa_build_info", "gauge", "The version of the service (value 1).");
  std::array<label, 1> version_label{label{"version", version()}};
  w.sample("caa_build_info", version_label, int64_t{1});
  write_http(w, m);
  write_sessions(w, m);
  write_processes(w, m);
  write_admission(w, m);
  write_events(w, m);
  write_rate_limits(w, m);
  write_webhooks(w, m);
  write_tenants(w, m);
  return w.take();
}

void http_request(std::string_view method, std::string_view route, unsigned status,
                  double seconds) noexcept {
  if (status == 0) return;
  if (route == "-") route = "unmatched";
  char buf[16];
  auto end = std::to_chars(buf, buf + sizeof buf, status).ptr;
  auto& m = service();
  m.http_requests.at({route, method, std::string_view{buf, static_cast<std::size_t>(end - buf)}})
      .inc();
  m.http_request_seconds.at({route}).observe(seconds);
}

std::string_view exit_code_label(int code) noexcept {
  switch (code) {
    case 0:
      return "0";
    case 1:
      return "1";
    case 2:
      return "2";
    case 126:
      return "126";
    case 127:
      return "127";
    case 129:
      return "129";
    case 130:
      return "130";
    case 134:
      return "134";
    case 137:
      return "137";
    case 139:
      return "139";
    case 141:
      return "141";
    case 143:
      return "143";
    default:
      return code < 0 ? "unknown" : "other";
  }
}

void cli_exited(int code) noexcept {
  service().cli_exits.at({exit_code_label(code)}).inc();
}

void agent_process_started() noexcept {
  auto& m = service();
  m.agent_processes_live.add();
  m.agent_processes_starting.add();
}

void agent_process_spoke() noexcept {
  service().agent_processes_starting.sub();
}

void agent_process_ended(bool spoke) noexcept {
  auto& m = service();
  m.agent_processes_live.sub();
  if (!spoke) m.agent_processes_starting.sub();
}

void event_delivered(bool accepted) noexcept {
  auto& m = service();
  if (accepted)
    m.events_streamed.inc();
  else
    m.subscriber_drops.inc();
}

void webhook_called(std::string_view event) noexcept {
  service().webhook_calls.at({event}).inc();
}

void webhook_failed(std::string_view event, std::string_view reason) noexcept {
  service().webhook_failures.at({event, reason}).inc();
}

void tenant_turn(std::string_view tenant, double cost_usd, const turn_tokens& tokens) noexcept {
  auto& m = service();
  m.tenant_turns.at({tenant}).inc();
  if (cost_usd > 0 && cost_usd < 1e9)
    m.tenant_cost_microusd.at({tenant}).inc(static_cast<uint64_t>(std::llround(cost_usd * 1e6)));
  for (auto [kind, n] : {std::pair{"input", tokens.input}, std::pair{"output", tokens.output},
                         std::pair{"cache_creation", tokens.cache_creation},
                         std::pair{"cache_read", tokens.cache_read}})
    if (n > 0) m.tenant_tokens.at({tenant, std::string_view{kind}}).inc(n);
}

void tenant_model_requests(std::string_view tenant, uint64_t requests) noexcept {
  service().tenant_model_requests.at({tenant}).inc(requests);
}

}  // namespace caa::metrics
