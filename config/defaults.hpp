#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

/// Every default of `caa::settings` as a named constant, plus the limits the loader enforces.
namespace caa::defaults {

// -- http --------------------------------------------------------------------------------------

inline constexpr std::string_view api_host = "0.0.0.0";           ///< API_HOST
inline constexpr uint16_t api_port = 54000;                       ///< API_PORT
inline constexpr unsigned api_io_threads = 2;                     ///< API_IO_THREADS
inline constexpr std::size_t api_max_connections = 4096;          ///< API_MAX_CONNECTIONS
inline constexpr std::size_t api_max_connections_per_ip = 256;    ///< API_MAX_CONNECTIONS_PER_IP
inline constexpr std::size_t api_max_body_bytes = 1 << 20;        ///< API_MAX_BODY_BYTES
inline constexpr std::size_t api_max_query_body_bytes = 8 << 20;  ///< API_MAX_QUERY_BODY_BYTES
inline constexpr double api_header_timeout_s = 10;                ///< API_HEADER_TIMEOUT
inline constexpr double api_body_timeout_s = 30;                  ///< API_BODY_TIMEOUT
inline constexpr double api_keep_alive_timeout_s = 75;            ///< API_KEEP_ALIVE_TIMEOUT
inline constexpr double api_request_timeout_s = 10;               ///< API_REQUEST_TIMEOUT
inline constexpr double ws_idle_timeout_s = 60;  ///< WS_IDLE_TIMEOUT (ping at half of it)
inline constexpr std::size_t ws_send_queue_bytes = 4 << 20;  ///< WS_SEND_QUEUE_BYTES
inline constexpr std::size_t ws_send_queue_frames = 4096;    ///< WS_SEND_QUEUE_FRAMES
inline constexpr double ws_ticket_ttl_s = 30;                ///< WS_TICKET_TTL

// -- storage -----------------------------------------------------------------------------------

/// DATABASE_URL
inline constexpr std::string_view database_url = "postgresql://127.0.0.1:5432/claude_agent_api";
inline constexpr std::string_view redis_url = "redis://127.0.0.1:6379/0";  ///< REDIS_URL
inline constexpr unsigned db_pool_size = 8;                                ///< DB_POOL_SIZE
inline constexpr unsigned redis_pool_size = 2;                             ///< REDIS_POOL_SIZE
inline constexpr double db_timeout_s = 5;                                  ///< DB_TIMEOUT
inline constexpr double redis_timeout_s = 0.5;                             ///< REDIS_TIMEOUT

// -- auth --------------------------------------------------------------------------------------

inline constexpr double key_cache_ttl_s = 4;                    ///< KEY_CACHE_TTL
inline constexpr unsigned auth_failures_per_minute = 60;        ///< AUTH_FAILURES_PER_MINUTE
inline constexpr unsigned rate_limit_query_per_minute = 10;     ///< RATE_LIMIT_QUERY_PER_MINUTE
inline constexpr unsigned rate_limit_general_per_minute = 100;  ///< RATE_LIMIT_GENERAL_PER_MINUTE
inline constexpr unsigned rate_limit_sync_interval_ms = 200;    ///< RATE_LIMIT_SYNC_INTERVAL (ms)

// -- agent -------------------------------------------------------------------------------------

inline constexpr std::string_view cli_path = "claude";              ///< CLAUDE_CLI_PATH
inline constexpr std::string_view workspace_root = "./workspaces";  ///< WORKSPACE_ROOT
inline constexpr unsigned max_agent_processes = 0;         ///< MAX_AGENT_PROCESSES (0: derive)
inline constexpr unsigned max_concurrent_spawns = 0;       ///< MAX_CONCURRENT_SPAWNS (0: cores)
inline constexpr unsigned agent_io_threads = 2;            ///< AGENT_IO_THREADS
inline constexpr unsigned tenant_max_agent_processes = 0;  ///< TENANT_MAX_AGENT_PROCESSES (0: half)
inline constexpr unsigned warm_pool_size = 1;              ///< WARM_POOL_SIZE
inline constexpr unsigned warm_pool_keys = 4;              ///< WARM_POOL_KEYS
inline constexpr double admission_wait_s = 10;             ///< ADMISSION_WAIT
inline constexpr double session_idle_timeout_s = 300;      ///< SESSION_IDLE_TIMEOUT
inline constexpr double turn_timeout_s = 600;              ///< TURN_TIMEOUT
inline constexpr double permission_timeout_s = 300;        ///< PERMISSION_TIMEOUT
inline constexpr double stream_stall_timeout_s = 30;       ///< STREAM_STALL_TIMEOUT
inline constexpr double drain_grace_period_s = 30;         ///< DRAIN_GRACE_PERIOD

// -- agent sandbox ------------------------------------------------------------------------------

inline constexpr std::string_view agent_sandbox = "strict";  ///< AGENT_SANDBOX
inline constexpr uint32_t agent_uid_base = 200000;           ///< AGENT_UID_BASE
inline constexpr uint32_t agent_uid_count = 100000;          ///< AGENT_UID_COUNT
inline constexpr uint64_t agent_memory_max = 2ull << 30;     ///< AGENT_MEMORY_MAX (bytes)
inline constexpr uint64_t agent_pids_max = 512;              ///< AGENT_PIDS_MAX
inline constexpr unsigned agent_cpu_weight = 0;              ///< AGENT_CPU_WEIGHT (0: unset)
inline constexpr uint64_t tenant_disk_quota = 0;             ///< TENANT_DISK_QUOTA (0: none)

// -- egress, cluster, misc ---------------------------------------------------------------------

inline constexpr bool webhook_allow_http = false;  ///< WEBHOOK_ALLOW_HTTP
inline constexpr uint16_t cluster_port = 0;        ///< CLUSTER_PORT (0: no publishing)
inline constexpr std::string_view cluster_advertise_host = "127.0.0.1";  ///< CLUSTER_ADVERTISE_HOST
inline constexpr double cluster_heartbeat_s = 2;                         ///< CLUSTER_HEARTBEAT
inline constexpr double cluster_node_ttl_s = 10;                         ///< CLUSTER_NODE_TTL
inline constexpr double session_lease_ttl_s = 10;                        ///< SESSION_LEASE_TTL
inline constexpr std::size_t min_cluster_secret_length = 16;  ///< CLUSTER_SECRET minimum length
inline constexpr bool debug = false;                          ///< DEBUG

// -- limits enforced by the loader -------------------------------------------------------------

inline constexpr unsigned max_io_threads = 64;               ///< API_IO_THREADS upper bound
inline constexpr unsigned max_db_pool_size = 64;             ///< DB_POOL_SIZE upper bound
inline constexpr unsigned max_redis_pool_size = 16;          ///< REDIS_POOL_SIZE upper bound
inline constexpr double max_key_cache_ttl_s = 5;             ///< KEY_CACHE_TTL upper bound
inline constexpr double max_duration_s = 31'536'000;         ///< any duration: one year at most
inline constexpr std::size_t min_api_key_length = 32;        ///< API_KEY minimum length
inline constexpr std::size_t min_metrics_token_length = 16;  ///< METRICS_TOKEN minimum length
inline constexpr std::size_t max_node_id_length = 128;       ///< NODE_ID maximum length

// RATE_LIMIT_SYNC_INTERVAL, milliseconds:
inline constexpr unsigned min_rate_limit_sync_interval_ms = 10;      ///< lower bound
inline constexpr unsigned max_rate_limit_sync_interval_ms = 10'000;  ///< upper bound

}  // namespace caa::defaults
