#pragma once

#include "config/defaults.hpp"
#include "config/secret.hpp"
#include "config/tenant_variables.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace caa {

/// A duration read from configuration in seconds (fractions allowed).
using seconds_d = std::chrono::duration<double>;

/// Log verbosity.
enum class log_level : uint8_t { debug, info, warn, error };

/// The HTTP listener and its limits.
struct http_settings {
  /// API_HOST
  std::string host{defaults::api_host};
  /// API_PORT
  uint16_t port = defaults::api_port;
  /// API_IO_THREADS
  unsigned io_threads = defaults::api_io_threads;
  /// API_MAX_CONNECTIONS
  std::size_t max_connections = defaults::api_max_connections;
  /// API_MAX_CONNECTIONS_PER_IP (open connections of one client address)
  std::size_t max_connections_per_ip = defaults::api_max_connections_per_ip;
  /// API_MAX_BODY_BYTES (general routes)
  std::size_t max_body_bytes = defaults::api_max_body_bytes;
  /// API_MAX_QUERY_BODY_BYTES (query routes, images)
  std::size_t max_query_body_bytes = defaults::api_max_query_body_bytes;
  /// API_HEADER_TIMEOUT (absolute, per request)
  seconds_d header_timeout{defaults::api_header_timeout_s};
  /// API_BODY_TIMEOUT
  seconds_d body_timeout{defaults::api_body_timeout_s};
  /// API_KEEP_ALIVE_TIMEOUT (idle between requests)
  seconds_d keep_alive_timeout{defaults::api_keep_alive_timeout_s};
  /// API_REQUEST_TIMEOUT (internal deadline of a handler)
  seconds_d request_timeout{defaults::api_request_timeout_s};
  /// Deadline of a turn route's handler until its stream starts (derived, not a variable): at
  /// least ADMISSION_WAIT + 30 s, so admission answers (503 CAPACITY_EXHAUSTED) before the edge.
  seconds_d query_request_timeout{defaults::api_request_timeout_s};
  /// WS_IDLE_TIMEOUT (a WebSocket with nothing received this long is closed; pinged at half)
  seconds_d ws_idle_timeout{defaults::ws_idle_timeout_s};
  /// WS_SEND_QUEUE_BYTES (unwritten bytes per WebSocket before a slow reader is closed, 1008)
  std::size_t ws_send_queue_bytes = defaults::ws_send_queue_bytes;
  /// WS_SEND_QUEUE_FRAMES (unwritten messages per WebSocket before it is closed, 1008)
  std::size_t ws_send_queue_frames = defaults::ws_send_queue_frames;
  /// WS_TICKET_TTL (lifetime of a single-use WebSocket ticket)
  seconds_d ws_ticket_ttl{defaults::ws_ticket_ttl_s};
  /// CORS_ORIGINS (comma list; "*" only with DEBUG)
  std::vector<std::string> cors_origins;
  /// TRUSTED_PROXIES (CIDR list)
  std::vector<std::string> trusted_proxies;
};

/// PostgreSQL and Redis. The URLs may carry passwords: never log them (see `describe`).
struct storage_settings {
  /// DATABASE_URL
  std::string database_url{defaults::database_url};
  /// REDIS_URL
  std::string redis_url{defaults::redis_url};
  /// DB_POOL_SIZE
  unsigned db_pool_size = defaults::db_pool_size;
  /// REDIS_POOL_SIZE
  unsigned redis_pool_size = defaults::redis_pool_size;
  /// DB_TIMEOUT (statement and request deadline)
  seconds_d db_timeout{defaults::db_timeout_s};
  /// REDIS_TIMEOUT
  seconds_d redis_timeout{defaults::redis_timeout_s};
};

/// API keys, rate limits.
struct auth_settings {
  /// API_KEY (secret: never logged)
  std::optional<secret> bootstrap_key;
  /// KEY_CACHE_TTL (<= 5 s: revocation latency)
  seconds_d key_cache_ttl{defaults::key_cache_ttl_s};
  /// RATE_LIMIT_QUERY_PER_MINUTE
  unsigned rate_limit_query_per_minute = defaults::rate_limit_query_per_minute;
  /// RATE_LIMIT_GENERAL_PER_MINUTE
  unsigned rate_limit_general_per_minute = defaults::rate_limit_general_per_minute;
  /// RATE_LIMIT_SYNC_INTERVAL (milliseconds between two reconciliations of the buckets with Redis)
  unsigned rate_limit_sync_interval_ms = defaults::rate_limit_sync_interval_ms;
  /// AUTH_FAILURES_PER_MINUTE (failed authentications per client address)
  unsigned auth_failures_per_minute = defaults::auth_failures_per_minute;
  /// METRICS_TOKEN (bearer for /metrics; secret)
  std::optional<secret> metrics_token;
};

/// The agent engine (Claude Code CLI) and its sessions.
struct agent_settings {
  /// ANTHROPIC_API_KEY (secret; CLI only)
  std::optional<secret> anthropic_api_key;
  /// ANTHROPIC_BASE_URL (CLI only)
  std::optional<std::string> anthropic_base_url;
  /// CLAUDE_CLI_PATH
  std::string cli_path{defaults::cli_path};
  /// WORKSPACE_ROOT
  std::string workspace_root{defaults::workspace_root};
  /// MAX_AGENT_PROCESSES (0: derive from memory)
  unsigned max_agent_processes = defaults::max_agent_processes;
  /// MAX_CONCURRENT_SPAWNS (0: the number of CPU cores)
  unsigned max_concurrent_spawns = defaults::max_concurrent_spawns;
  /// AGENT_IO_THREADS
  unsigned io_threads = defaults::agent_io_threads;
  /// TENANT_MAX_AGENT_PROCESSES (0: half the process budget, at least 1)
  unsigned tenant_max_agent_processes = defaults::tenant_max_agent_processes;
  /// WARM_POOL_SIZE (warm processes per tenant-and-options key; 0: no warm pool)
  unsigned warm_pool_size = defaults::warm_pool_size;
  /// WARM_POOL_KEYS (tenant-and-options keys kept warm)
  unsigned warm_pool_keys = defaults::warm_pool_keys;
  /// ADMISSION_WAIT
  seconds_d admission_wait{defaults::admission_wait_s};
  /// SESSION_IDLE_TIMEOUT
  seconds_d session_idle_timeout{defaults::session_idle_timeout_s};
  /// TURN_TIMEOUT
  seconds_d turn_timeout{defaults::turn_timeout_s};
  /// PERMISSION_TIMEOUT
  seconds_d permission_timeout{defaults::permission_timeout_s};
  /// STREAM_STALL_TIMEOUT (seconds a subscriber may read nothing while events wait for it)
  seconds_d stream_stall_timeout{defaults::stream_stall_timeout_s};
  /// DRAIN_GRACE_PERIOD
  seconds_d drain_grace_period{defaults::drain_grace_period_s};
  /// BYPASS_PERMISSIONS_TENANTS (tenant names)
  std::vector<std::string> bypass_tenants;
  /// EVENT_DURABILITY (false: sync, every event stored before it is sent; true: async)
  bool async_events = false;
  /// TENANT_DURABILITY_ALLOW (tenant names that may choose a turn's `durability: "async"`)
  std::vector<std::string> durability_tenants;
  /// EVENT_FLUSH_INTERVAL (milliseconds within which an async event is stored)
  unsigned event_flush_interval_ms = 20;
};

/// The agent sandbox (unprivileged per-tenant uid, namespaces, caps, model proxy).
struct sandbox_settings {
  /// AGENT_SANDBOX (true: strict; false: off, which DEBUG must allow)
  bool strict = true;
  /// AGENT_UID_BASE (first host uid of the tenants' range)
  uint32_t uid_base = defaults::agent_uid_base;
  /// AGENT_UID_COUNT (size of the range: tenants at most)
  uint32_t uid_count = defaults::agent_uid_count;
  /// AGENT_MEMORY_MAX (bytes per session's process tree)
  uint64_t memory_max = defaults::agent_memory_max;
  /// AGENT_PIDS_MAX (processes and threads per session's tree)
  uint64_t pids_max = defaults::agent_pids_max;
  /// AGENT_CPU_WEIGHT (1..10000; 0: the host's default)
  unsigned cpu_weight = defaults::agent_cpu_weight;
  /// TENANT_DISK_QUOTA (bytes of a tenant's workspace and config; 0: none)
  uint64_t disk_quota = defaults::tenant_disk_quota;
  /// USAGE_FLUSH_INTERVAL (milliseconds between writes of the model proxy's usage counts)
  unsigned usage_flush_interval_ms = 1000;
  /// AGENT_RUNTIME_DIR (per-process sockets and files; empty: WORKSPACE_ROOT/.sandbox)
  std::string runtime_dir;
  /// AGENT_EGRESS_ALLOW (domains the agent's tools may reach through the egress proxy)
  std::vector<std::string> egress_allow;
  /// The service's own effective uid, set at load: not root, it cannot give tenants uids of
  /// their own, and every sandbox runs as this uid (namespaces, mounts and caps still apply).
  uint32_t service_uid = 0;
};

/// The host uid (also the gid) of a tenant's sandbox `slot`: 0 when the sandbox is off or the
/// slot lies outside AGENT_UID_COUNT; the service's own uid when it is not root.
inline uint32_t agent_uid_of(const sandbox_settings& s, int64_t slot) noexcept {
  if (!s.strict || slot < 0 || slot >= int64_t{s.uid_count}) return 0;
  if (s.service_uid != 0) return s.service_uid;
  return s.uid_base + static_cast<uint32_t>(slot);
}

/// Outbound calls (webhooks, MCP URLs).
struct egress_settings {
  /// EGRESS_ALLOW_CIDRS
  std::vector<std::string> allow_cidrs;
  /// WEBHOOK_ALLOW_HTTP
  bool webhook_allow_http = defaults::webhook_allow_http;
  /// MCP_STDIO_ALLOWED_COMMANDS (abs paths)
  std::vector<std::string> mcp_stdio_allowed_commands;
  /// TENANT_VARIABLES_FILE (JSON file of per-tenant variables for MCP env and headers)
  std::string tenant_variables_file;
  /// What TENANT_VARIABLES_FILE holds, by tenant name (values are secrets).
  std::map<std::string, config::tenant_variable_map> tenant_variables;
};

/// Cluster membership.
struct cluster_settings {
  /// NODE_ID (default: hostname-pid)
  std::string node_id;
  /// CLUSTER_PORT (0: no remote publishing)
  uint16_t cluster_port = defaults::cluster_port;
  /// CLUSTER_ADVERTISE_HOST (the only address the cluster port listens on, and the one other
  /// nodes are told to connect to)
  std::string advertise_host{defaults::cluster_advertise_host};
  /// CLUSTER_SECRET (secret a peer presents in its first message; unset: the port stays closed)
  std::optional<secret> shared_secret;
  /// CLUSTER_HEARTBEAT (seconds between two announcements in Redis)
  seconds_d heartbeat{defaults::cluster_heartbeat_s};
  /// CLUSTER_NODE_TTL (seconds after the last announcement when a node is gone)
  seconds_d node_ttl{defaults::cluster_node_ttl_s};
  /// SESSION_LEASE_TTL (seconds a session's ownership lease runs without renewal: how long a
  /// session of a stopped node waits before another node may take it over)
  seconds_d lease_ttl{defaults::session_lease_ttl_s};

  /// Whether this node joins a cluster: a port and a secret.
  [[nodiscard]] bool enabled() const noexcept {
    return cluster_port > 0 && shared_secret.has_value();
  }
};

/// Every setting of the service, validated.
struct settings {
  /// DEBUG
  bool debug = defaults::debug;
  /// AGENT_SANDBOX and its caps
  sandbox_settings sandbox;
  /// LOG_LEVEL
  log_level level = log_level::info;
  http_settings http;
  storage_settings storage;
  auth_settings auth;
  agent_settings agent;
  egress_settings egress;
  cluster_settings cluster;
};

}  // namespace caa
