#pragma once

// The metrics the service exports on `GET /metrics` (docs/METRICS.md lists them with their
// meaning), one set per process (`service()`), and the calls the layers record them with.
// Recording never locks nor allocates; label values come from bounded sets (route templates,
// never raw paths; status codes; bucketed exit codes; hook event names and failure kinds).

#include "config/metrics.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace caa::metrics {

/// Every metric of the service.
struct service_metrics {
  service_metrics();

  // -- HTTP edge --
  family<counter, 3> http_requests;           ///< answered requests by route, method, status
  family<histogram, 1> http_request_seconds;  ///< first byte in to last byte out, by route

  // -- sessions and agent processes --
  gauge sessions_loaded;           ///< session actors in memory (the registry's)
  gauge sessions_running;          ///< holding a process slot for a turn (admission)
  gauge sessions_idle;             ///< holding a process slot between turns (admission)
  gauge agent_processes_live;      ///< CLI processes spawned and not yet reaped
  gauge agent_processes_starting;  ///< live ones that have not written a line yet
  gauge agent_processes_warm;      ///< started ahead of any session (a warm pool sets it)
  gauge agent_process_budget;      ///< MAX_AGENT_PROCESSES as resolved
  gauge agent_process_slots_held;  ///< budget slots held (running, idle or retiring)
  family<counter, 1> cli_exits;    ///< reaped CLI processes by exit code (`exit_code_label`)

  // -- admission --
  gauge admission_queue_depth;       ///< turns waiting for a process slot
  gauge admission_starting;          ///< granted starts not finished (MAX_CONCURRENT_SPAWNS)
  histogram admission_wait_seconds;  ///< wait of each granted slot (0: granted at once)
  counter admission_granted;         ///< slots granted
  counter admission_refused;         ///< turns refused after ADMISSION_WAIT (503)

  // -- events --
  counter events_streamed;       ///< events handed to a client's subscription
  counter subscriber_drops;      ///< subscriptions ended because they refused an event
  counter stream_catch_ups;      ///< streams behind a session's memory that went on from storage
  counter events_persisted;      ///< events committed to PostgreSQL
  histogram event_batch_events;  ///< events per committed INSERT
  histogram event_persist_lag_seconds;  ///< commit of a batch minus queueing of its oldest event
  counter event_write_failures;         ///< append requests answered with an error
  histogram db_pipeline_reads;          ///< reads per pipeline of the PostgreSQL pool

  // -- rate limits (recorded by the reconciliation of this node's buckets with Redis) --
  counter rate_limit_sync_ok;      ///< rounds whose every Redis call was answered
  counter rate_limit_sync_failed;  ///< rounds with a failed call (Redis down, timeout, bad reply)
  gauge rate_limit_sync_buckets;   ///< buckets the latest round reported (0: none was used)

  // -- webhooks (recorded by the hook dispatcher) --
  family<counter, 1> webhook_calls;     ///< webhook POSTs attempted, by hook event
  family<counter, 2> webhook_failures;  ///< failed ones by hook event and reason
  // -- usage per tenant (the tenant label holds `tenant_series` tenants, the rest is "other") --
  family<counter, 1> tenant_turns;           ///< finished turns by tenant
  family<counter, 1> tenant_cost_microusd;   ///< their CLI-reported cost (micro-USD) by tenant
  family<counter, 2> tenant_tokens;          ///< their tokens by tenant and kind
  family<counter, 1> tenant_model_requests;  ///< requests the model proxy forwarded by tenant
};

/// The tenants the per-tenant families keep apart; later tenants are counted under "other".
inline constexpr std::size_t tenant_series = 64;

/// The metrics of this process (never destroyed: recording stays safe during exit).
service_metrics& service() noexcept;

/// `m` in the Prometheus text format 0.0.4, HELP and TYPE lines included.
std::string render(const service_metrics& m);

/// Records one answered request: `route` is the matched template ("-": none matched), `status`
/// the status sent (0, a connection closed without an answer, is not recorded).
void http_request(std::string_view method, std::string_view route, unsigned status,
                  double seconds) noexcept;

/// The `code` label of a CLI exit code: common codes as themselves (0, 1, 2, 126, 127 and
/// 128 + SIGHUP, SIGINT, SIGABRT, SIGKILL, SIGSEGV, SIGPIPE, SIGTERM), "unknown" for a negative
/// code (status lost), "other" for the rest.
std::string_view exit_code_label(int code) noexcept;

/// Records a reaped CLI process: `code` is its exit code, or 128 + the signal that killed it.
void cli_exited(int code) noexcept;

/// Records a spawned CLI process (live and starting).
void agent_process_started() noexcept;

/// Records that a CLI process wrote its first output (no longer starting).
void agent_process_spoke() noexcept;

/// Records that a CLI process is gone; `spoke` tells whether `agent_process_spoke` was recorded.
void agent_process_ended(bool spoke) noexcept;

/// Records one event offered to a subscriber: streamed when `accepted`, else a dropped subscriber.
void event_delivered(bool accepted) noexcept;

/// The token counts of one turn (as the CLI reported them).
struct turn_tokens {
  uint64_t input = 0;           ///< input_tokens
  uint64_t output = 0;          ///< output_tokens
  uint64_t cache_creation = 0;  ///< cache_creation_input_tokens
  uint64_t cache_read = 0;      ///< cache_read_input_tokens
};

/// Records a finished turn of `tenant` (its uuid) with its cost and tokens.
void tenant_turn(std::string_view tenant, double cost_usd, const turn_tokens& tokens) noexcept;

/// Records `requests` requests the model proxy forwarded for `tenant`.
void tenant_model_requests(std::string_view tenant, uint64_t requests) noexcept;

/// Records a webhook POST for hook `event` (e.g. "PreToolUse").
void webhook_called(std::string_view event) noexcept;

/// Records a failed webhook POST for hook `event`; `reason` is a fixed word ("timeout",
/// "refused", "status", ...), never a URL or a response text.
void webhook_failed(std::string_view event, std::string_view reason) noexcept;

}  // namespace caa::metrics
