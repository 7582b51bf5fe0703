// The Prometheus text format 0.0.4 rendering: exact lines for counters, gauges and histograms,
// escaping of HELP texts and label values, and the whole catalogue of the service as a valid
// exposition (checked by a strict reader).

#include "config/metrics.hpp"
#include "config/metrics_catalog.hpp"
#include "tests/unit/metrics_exposition.hpp"

#include <gtest/gtest.h>

#include <array>
#include <limits>

using namespace caa::metrics;

TEST(metrics_text, escapes_label_values_and_help) {
  EXPECT_EQ(escape_label_value(R"(a\b"c)"
                               "\n"
                               "d"),
            R"(a\\b\"c\nd)");
  EXPECT_EQ(escape_help("a\\b \"quoted\"\nnext"), R"(a\\b "quoted"\nnext)");
  EXPECT_EQ(escape_label_value("plain /api/v1/sessions/{id:uuid}"),
            "plain /api/v1/sessions/{id:uuid}");
}

TEST(metrics_text, formats_values) {
  EXPECT_EQ(format_value(0), "0");
  EXPECT_EQ(format_value(1), "1");
  EXPECT_EQ(format_value(0.005), "0.005");
  EXPECT_EQ(format_value(2.5), "2.5");
  EXPECT_EQ(format_value(1800), "1800");
  EXPECT_EQ(format_value(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(format_value(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(format_value(std::numeric_limits<double>::quiet_NaN()), "NaN");
}

TEST(metrics_text, counter_family_lines_are_exact) {
  family<counter, 2> f{{"route", "status"}, 4};
  f.at({"/a\"b", "200"}).inc(3);
  text_writer w;
  write_family(w, "x_requests_total", "counter", "Requests.\nBy \\route.", f);
  EXPECT_EQ(w.text(),
            "# HELP x_requests_total Requests.\\nBy \\\\route.\n"
            "# TYPE x_requests_total counter\n"
            "x_requests_total{route=\"/a\\\"b\",status=\"200\"} 3\n");
}

TEST(metrics_text, samples_without_labels_have_no_braces) {
  text_writer w;
  std::array<label, 0> none{};
  w.declare("x_up", "gauge", "Up.");
  w.sample("x_up", none, int64_t{-2});
  w.sample("x_up", none, uint64_t{18446744073709551615ull});
  EXPECT_EQ(w.text(), "# HELP x_up Up.\n# TYPE x_up gauge\nx_up -2\nx_up 18446744073709551615\n");
}

TEST(metrics_text, histogram_lines_are_cumulative_with_inf_sum_and_count) {
  std::array<double, 3> bounds{0.5, 1, 2.5};
  histogram h{bounds};
  for (double x : {0.25, 0.75, 0.75, 3.0}) h.observe(x);
  text_writer w;
  std::array<label, 1> ls{label{"route", "/r"}};
  w.declare("x_seconds", "histogram", "Durations.");
  w.write("x_seconds", ls, h);
  EXPECT_EQ(w.text(),
            "# HELP x_seconds Durations.\n"
            "# TYPE x_seconds histogram\n"
            "x_seconds_bucket{route=\"/r\",le=\"0.5\"} 1\n"
            "x_seconds_bucket{route=\"/r\",le=\"1\"} 3\n"
            "x_seconds_bucket{route=\"/r\",le=\"2.5\"} 3\n"
            "x_seconds_bucket{route=\"/r\",le=\"+Inf\"} 4\n"
            "x_seconds_sum{route=\"/r\"} 4.75\n"
            "x_seconds_count{route=\"/r\"} 4\n");
}

TEST(metrics_text, empty_histogram_still_has_every_bucket) {
  histogram h{std::array<double, 2>{1, 2}};
  text_writer w;
  std::array<label, 0> none{};
  w.write("x", none, h);
  EXPECT_EQ(w.text(),
            "x_bucket{le=\"1\"} 0\nx_bucket{le=\"2\"} 0\nx_bucket{le=\"+Inf\"} 0\nx_sum 0\n"
            "x_count 0\n");
}

TEST(metrics_text, the_strict_reader_rejects_broken_expositions) {
  using caa::test::parse_exposition;
  EXPECT_TRUE(parse_exposition("# HELP a A.\n# TYPE a counter\na 1\n").errors.empty());
  EXPECT_FALSE(parse_exposition("# TYPE a counter\na 1\n").errors.empty());  // no HELP
  EXPECT_FALSE(parse_exposition("# HELP a A.\n# TYPE a counter\nb 1\n").errors.empty());
  EXPECT_FALSE(parse_exposition("# HELP a A.\n# TYPE a counter\na{x=\"1} 1\n").errors.empty());
  EXPECT_FALSE(parse_exposition("# HELP a A.\n# TYPE a counter\na one\n").errors.empty());
  EXPECT_FALSE(parse_exposition("# HELP a A.\n# TYPE a counter\na 1\na 2\n").errors.empty());
  EXPECT_FALSE(parse_exposition("# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\n"
                                "h_bucket{le=\"+Inf\"} 1\nh_count 1\nh_sum 0\n")
                   .errors.empty());  // not cumulative
  EXPECT_FALSE(parse_exposition("# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\n"
                                "h_count 1\nh_sum 0\n")
                   .errors.empty());  // no +Inf
}

TEST(metrics_text, the_service_catalogue_is_a_valid_exposition) {
  service_metrics m;
  m.http_requests.at({"/api/v1/sessions/{id:uuid}", "GET", "200"}).inc(2);
  m.http_requests.at({"unmatched", "GET", "404"}).inc();
  m.http_request_seconds.at({"/api/v1/sessions/{id:uuid}"}).observe(0.02);
  m.cli_exits.at({exit_code_label(137)}).inc();
  m.webhook_calls.at({"PreToolUse"}).inc();
  m.webhook_failures.at({"PreToolUse", "timeout"}).inc();
  m.sessions_loaded.set(5);
  m.sessions_running.set(1);
  m.sessions_idle.set(2);
  m.admission_wait_seconds.observe(0);
  m.event_batch_events.observe(3);
  m.rate_limit_sync_ok.inc(4);
  m.rate_limit_sync_failed.inc();
  m.rate_limit_sync_buckets.set(7);
  m.tenant_turns.at({"t-1"}).inc(2);
  m.tenant_cost_microusd.at({"t-1"}).inc(1'250'000);
  m.tenant_tokens.at({"t-1", "input"}).inc(30);
  m.tenant_model_requests.at({"t-1"}).inc(4);
  auto e = caa::test::parse_exposition(render(m));
  for (const auto& err : e.errors) ADD_FAILURE() << err;
  EXPECT_EQ(e.types.at("caa_http_requests_total"), "counter");
  EXPECT_EQ(e.types.at("caa_http_request_duration_seconds"), "histogram");
  EXPECT_EQ(
      e.value("caa_http_requests_total",
              {{"route", "/api/v1/sessions/{id:uuid}"}, {"method", "GET"}, {"status", "200"}}),
      2);
  EXPECT_EQ(e.value("caa_http_request_duration_seconds_bucket",
                    {{"route", "/api/v1/sessions/{id:uuid}"}, {"le", "0.025"}}),
            1);
  EXPECT_EQ(e.value("caa_sessions", {{"state", "running"}}), 1);
  EXPECT_EQ(e.value("caa_sessions", {{"state", "idle"}}), 2);
  EXPECT_EQ(e.value("caa_sessions", {{"state", "hibernated"}}), 2);
  EXPECT_EQ(e.value("caa_cli_exits_total", {{"code", "137"}}), 1);
  EXPECT_EQ(e.value("caa_webhook_failures_total", {{"event", "PreToolUse"}, {"reason", "timeout"}}),
            1);
  EXPECT_EQ(e.value("caa_admission_wait_seconds_bucket", {{"le", "0"}}), 1);
  EXPECT_EQ(e.value("caa_tenant_turns_total", {{"tenant", "t-1"}}), 2);
  EXPECT_EQ(e.value("caa_tenant_cost_usd_total", {{"tenant", "t-1"}}), 1.25);
  EXPECT_EQ(e.value("caa_tenant_tokens_total", {{"tenant", "t-1"}, {"kind", "input"}}), 30);
  EXPECT_EQ(e.value("caa_tenant_model_requests_total", {{"tenant", "t-1"}}), 4);
  EXPECT_EQ(e.value("caa_agent_processes_warm"), 0);
  EXPECT_EQ(e.types.at("caa_rate_limit_sync_rounds_total"), "counter");
  EXPECT_EQ(e.value("caa_rate_limit_sync_rounds_total", {{"outcome", "ok"}}), 4);
  EXPECT_EQ(e.value("caa_rate_limit_sync_rounds_total", {{"outcome", "failed"}}), 1);
  EXPECT_EQ(e.value("caa_rate_limit_sync_buckets"), 7);
  EXPECT_EQ(e.value("caa_build_info").value_or(0), 1);
  for (auto name :
       {"caa_events_streamed_total", "caa_events_persisted_total", "caa_subscriber_drops_total",
        "caa_stream_catch_ups_total", "caa_admission_queue_depth", "caa_agent_processes_live",
        "caa_agent_processes_starting", "caa_event_persist_lag_seconds", "caa_event_batch_events",
        "caa_admission_refused_total", "caa_webhook_calls_total"})
    EXPECT_TRUE(e.types.count(name)) << name;
}
