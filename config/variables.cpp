#include "config/variables.hpp"

#include "config/parsers.hpp"
#include "config/tenant_variables.hpp"

#include <algorithm>
#include <charconv>
#include <type_traits>

namespace caa::config {

namespace {

using check_fn = bool (*)(std::string_view);
using item_fn = std::optional<std::string> (*)(std::string_view);

std::string got(std::string_view text) {
  return " (got " + quote(text) + ")";
}

bool no_control(std::string_view text) {
  return std::none_of(text.begin(), text.end(),
                      [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}

std::string show_seconds(seconds_d x) {
  char buf[32];
  auto res = std::to_chars(buf, buf + sizeof(buf), x.count());
  return std::string(buf, res.ptr);
}

std::string show_list(const std::vector<std::string>& xs) {
  std::string out;
  for (const auto& x : xs) out.append(out.empty() ? "" : ",").append(x);
  return out;
}

template <class Get>
variable uint_var(std::string_view name, std::string_view help, Get get, uint64_t lo, uint64_t hi) {
  auto apply = [=](settings& s, std::string_view text) -> std::string {
    auto x = parse_uint(text, lo, hi);
    if (!x)
      return "must be an integer in " + std::to_string(lo) + ".." + std::to_string(hi) + got(text);
    get(s) = static_cast<std::remove_reference_t<decltype(get(s))>>(*x);
    return {};
  };
  return {name, help, false, apply, [=](const settings& s) { return std::to_string(get(s)); }};
}

template <class Get>
variable seconds_var(std::string_view name, std::string_view help, Get get,
                     double max = defaults::max_duration_s) {
  auto apply = [=](settings& s, std::string_view text) -> std::string {
    auto x = parse_seconds(text, max);
    if (!x)
      return "must be a number of seconds > 0 and <= " + show_seconds(seconds_d{max}) + got(text);
    get(s) = seconds_d{*x};
    return {};
  };
  return {name, help, false, apply, [=](const settings& s) { return show_seconds(get(s)); }};
}

template <class Get>
variable bool_var(std::string_view name, std::string_view help, Get get) {
  auto apply = [=](settings& s, std::string_view text) -> std::string {
    auto x = parse_bool(text);
    if (!x) return "must be one of true, false, 1, 0, yes, no" + got(text);
    get(s) = *x;
    return {};
  };
  return {name, help, true, apply, [=](const settings& s) { return get(s) ? "true" : "false"; }};
}

/// A required string; `sensitive` values are never echoed and shown masked as URLs.
template <class Get>
variable text_var(std::string_view name, std::string_view help, Get get, check_fn ok,
                  std::string_view rule, bool sensitive = false) {
  auto apply = [=](settings& s, std::string_view text) -> std::string {
    if (!ok(text)) return std::string{rule} + (sensitive ? " (value not shown)" : got(text));
    get(s) = std::string{text};
    return {};
  };
  auto show = [=](const settings& s) { return sensitive ? mask_url(get(s)) : get(s); };
  return {name, help, false, apply, show};
}

/// An optional secret: empty means unset; shown only as <set>/<unset>.
template <class Get>
variable secret_var(std::string_view name, std::string_view help, Get get, check_fn ok,
                    std::string_view rule) {
  auto apply = [=](settings& s, std::string_view text) -> std::string {
    if (text.empty())
      get(s).reset();
    else if (!ok(text))
      return std::string{rule} + " (value not shown)";
    else
      get(s).emplace(std::string{text});
    return {};
  };
  return {name, help, false, apply,
          [=](const settings& s) { return get(s) ? "<set>" : "<unset>"; }};
}

/// A comma list whose items pass `item` (which may normalise them).
template <class Get>
variable list_var(std::string_view name, std::string_view help, Get get, item_fn item,
                  std::string_view rule) {
  auto apply = [=](settings& s, std::string_view text) -> std::string {
    auto xs = split_list(text);
    if (!xs) return "must be a comma list without empty items" + got(text);
    for (auto& x : *xs) {
      auto y = item(x);
      if (!y) return "item " + quote(x) + " is not " + std::string{rule};
      x = std::move(*y);
    }
    get(s) = std::move(*xs);
    return {};
  };
  return {name, help, false, apply, [=](const settings& s) { return show_list(get(s)); }};
}

template <bool (*Check)(std::string_view)>
std::optional<std::string> keep_if(std::string_view x) {
  return Check(x) ? std::optional<std::string>{std::string{x}} : std::nullopt;
}

bool cidr(std::string_view x) {
  return is_cidr(x);
}
bool abs_path(std::string_view x) {
  return is_absolute_path(x);
}
bool token(std::string_view x) {
  return is_printable_token(x);
}
bool nonempty_path(std::string_view x) {
  return !x.empty() && no_control(x);
}
bool api_host(std::string_view x) {
  return is_host(x, false);
}
bool pg_url(std::string_view x) {
  return is_postgres_url(x);
}
bool redis_url(std::string_view x) {
  return is_redis_url(x);
}
bool api_key(std::string_view x) {
  return is_key_text(x, defaults::min_api_key_length);
}
bool metrics_token(std::string_view x) {
  return is_printable_token(x) && x.size() >= defaults::min_metrics_token_length;
}
bool cluster_secret(std::string_view x) {
  return is_printable_token(x) && x.size() >= defaults::min_cluster_secret_length;
}
bool node_id(std::string_view x) {
  return x.empty() || (is_printable_token(x) && x.size() <= defaults::max_node_id_length);
}

bool sandbox_mode(std::string_view x) {
  return x == "strict" || x == "off";
}

/// A byte count with an optional K, M, G or T suffix (powers of 1024).
std::optional<uint64_t> parse_bytes(std::string_view text) {
  uint64_t scale = 1;
  if (!text.empty()) {
    switch (text.back()) {
      case 'K':
      case 'k':
        scale = 1ull << 10;
        break;
      case 'M':
      case 'm':
        scale = 1ull << 20;
        break;
      case 'G':
      case 'g':
        scale = 1ull << 30;
        break;
      case 'T':
      case 't':
        scale = 1ull << 40;
        break;
      default:
        break;
    }
    if (scale != 1) text.remove_suffix(1);
  }
  auto x = parse_uint(text, 0, (1ull << 62) / scale);
  if (!x) return std::nullopt;
  return *x * scale;
}

template <class Get>
variable bytes_var(std::string_view name, std::string_view help, Get get, uint64_t lo) {
  auto apply = [=](settings& s, std::string_view text) -> std::string {
    auto x = parse_bytes(text);
    if (!x || *x < lo)
      return "must be a byte count >= " + std::to_string(lo) + " (suffix K, M, G or T allowed)" +
             got(text);
    get(s) = *x;
    return {};
  };
  return {name, help, false, apply, [=](const settings& s) { return std::to_string(get(s)); }};
}

variable sandbox_var() {
  auto apply = [](settings& s, std::string_view text) -> std::string {
    if (!sandbox_mode(text)) return "must be strict or off" + got(text);
    s.sandbox.strict = text == "strict";
    return {};
  };
  return {"AGENT_SANDBOX", "agent sandbox: strict, or off (only with DEBUG)", false, apply,
          [](const settings& s) { return std::string{s.sandbox.strict ? "strict" : "off"}; }};
}

variable durability_var() {
  auto apply = [](settings& s, std::string_view text) -> std::string {
    if (text != "sync" && text != "async") return "must be sync or async" + got(text);
    s.agent.async_events = text == "async";
    return {};
  };
  return {"EVENT_DURABILITY",
          "sync: every event is stored before it is sent; async: sent at once, stored within "
          "EVENT_FLUSH_INTERVAL",
          false, apply,
          [](const settings& s) { return std::string{s.agent.async_events ? "async" : "sync"}; }};
}

std::optional<std::string> cors_item(std::string_view x) {
  return x == "*" ? std::optional<std::string>{"*"} : parse_origin(x);
}

variable log_level_var() {
  auto apply = [](settings& s, std::string_view text) -> std::string {
    auto x = parse_log_level(text);
    if (!x) return "must be one of debug, info, warn, error" + got(text);
    s.level = *x;
    return {};
  };
  return {"LOG_LEVEL", "debug, info, warn or error", false, apply,
          [](const settings& s) { return std::string{to_string(s.level)}; }};
}

variable base_url_var() {
  auto apply = [](settings& s, std::string_view text) -> std::string {
    if (text.empty())
      s.agent.anthropic_base_url.reset();
    else if (!is_http_url(text))
      return "must be an http(s) URL without credentials" + got(text);
    else
      s.agent.anthropic_base_url = std::string{text};
    return {};
  };
  auto show = [](const settings& s) {
    return s.agent.anthropic_base_url ? mask_url(*s.agent.anthropic_base_url) : "<unset>";
  };
  return {"ANTHROPIC_BASE_URL", "model API base URL, passed to the CLI only", false, apply, show};
}

/// TENANT_VARIABLES_FILE: the file is read and validated when the setting is applied; empty
/// means no variables. Only the path is ever shown.
variable tenant_variables_var() {
  auto apply = [](settings& s, std::string_view text) -> std::string {
    s.egress.tenant_variables.clear();
    s.egress.tenant_variables_file = std::string{text};
    if (text.empty()) return {};
    if (!no_control(text)) return "must be a file path" + got(text);
    auto err = read_tenant_variables(std::string{text}, s.egress.tenant_variables);
    return err.empty() ? err : quote(text) + ": " + err;
  };
  auto show = [](const settings& s) {
    return s.egress.tenant_variables_file.empty() ? std::string{"<unset>"}
                                                  : s.egress.tenant_variables_file;
  };
  return {"TENANT_VARIABLES_FILE",
          "JSON file {\"tenant\":{\"NAME\":\"value\"}} of MCP env/header variables (secrets)",
          false, apply, show};
}

// `path` is a member path (e.g. `http.port`): it cannot be parenthesised.
// NOLINTBEGIN(bugprone-macro-parentheses)
#define CAA_FIELD(path)  \
  [](auto& s) -> auto& { \
    return s.path;       \
  }
// NOLINTEND(bugprone-macro-parentheses)

std::vector<variable> make_variables() {
  constexpr uint64_t max_bytes = uint64_t{1} << 30;
  constexpr uint64_t max_count = 1'000'000;
  return {
      bool_var("DEBUG", "development mode (allows CORS \"*\")", CAA_FIELD(debug)),
      log_level_var(),
      text_var("API_HOST", "listen address", CAA_FIELD(http.host), api_host,
               "must be an IP address or host name"),
      uint_var("API_PORT", "listen port (0: ephemeral)", CAA_FIELD(http.port), 0, 65535),
      uint_var("API_IO_THREADS", "HTTP I/O threads", CAA_FIELD(http.io_threads), 1,
               defaults::max_io_threads),
      uint_var("API_MAX_CONNECTIONS", "concurrent connections", CAA_FIELD(http.max_connections), 1,
               max_count),
      uint_var("API_MAX_CONNECTIONS_PER_IP", "concurrent connections of one client address",
               CAA_FIELD(http.max_connections_per_ip), 1, max_count),
      uint_var("API_MAX_BODY_BYTES", "request body limit, general routes",
               CAA_FIELD(http.max_body_bytes), 1, max_bytes),
      uint_var("API_MAX_QUERY_BODY_BYTES", "request body limit, query routes",
               CAA_FIELD(http.max_query_body_bytes), 1, max_bytes),
      seconds_var("API_HEADER_TIMEOUT", "seconds to read a request's headers",
                  CAA_FIELD(http.header_timeout)),
      seconds_var("API_BODY_TIMEOUT", "seconds to read a request body",
                  CAA_FIELD(http.body_timeout)),
      seconds_var("API_KEEP_ALIVE_TIMEOUT", "idle seconds between requests",
                  CAA_FIELD(http.keep_alive_timeout)),
      seconds_var("API_REQUEST_TIMEOUT", "internal deadline of a handler, seconds",
                  CAA_FIELD(http.request_timeout)),
      seconds_var("WS_IDLE_TIMEOUT", "seconds a WebSocket may stay silent (pinged at half)",
                  CAA_FIELD(http.ws_idle_timeout)),
      uint_var("WS_SEND_QUEUE_BYTES", "unwritten bytes per WebSocket before it is closed",
               CAA_FIELD(http.ws_send_queue_bytes), 1024, max_bytes),
      uint_var("WS_SEND_QUEUE_FRAMES", "unwritten messages per WebSocket before it is closed",
               CAA_FIELD(http.ws_send_queue_frames), 1, max_count),
      seconds_var("WS_TICKET_TTL", "lifetime of a WebSocket ticket, seconds",
                  CAA_FIELD(http.ws_ticket_ttl), 300),
      list_var("CORS_ORIGINS", "allowed browser origins, comma list (\"*\" only with DEBUG)",
               CAA_FIELD(http.cors_origins), cors_item, "an origin scheme://host[:port] or \"*\""),
      list_var("TRUSTED_PROXIES", "proxies whose X-Forwarded-For is believed, CIDR list",
               CAA_FIELD(http.trusted_proxies), keep_if<cidr>, "an IP address or CIDR"),
      text_var("DATABASE_URL", "PostgreSQL URL", CAA_FIELD(storage.database_url), pg_url,
               "must be a postgresql:// or postgres:// URL", true),
      text_var("REDIS_URL", "Redis URL", CAA_FIELD(storage.redis_url), redis_url,
               "must be a redis://[user:password@]host[:port][/db] URL", true),
      uint_var("DB_POOL_SIZE", "PostgreSQL connections", CAA_FIELD(storage.db_pool_size), 1,
               defaults::max_db_pool_size),
      uint_var("REDIS_POOL_SIZE", "Redis connections", CAA_FIELD(storage.redis_pool_size), 1,
               defaults::max_redis_pool_size),
      seconds_var("DB_TIMEOUT", "PostgreSQL deadline, seconds", CAA_FIELD(storage.db_timeout)),
      seconds_var("REDIS_TIMEOUT", "Redis deadline, seconds", CAA_FIELD(storage.redis_timeout)),
      secret_var("API_KEY", "bootstrap admin key (secret)", CAA_FIELD(auth.bootstrap_key), api_key,
                 "must be at least 32 characters of [A-Za-z0-9_-]"),
      seconds_var("KEY_CACHE_TTL", "API key cache lifetime, seconds (<= 5)",
                  CAA_FIELD(auth.key_cache_ttl), defaults::max_key_cache_ttl_s),
      uint_var("RATE_LIMIT_QUERY_PER_MINUTE", "query requests per key and minute",
               CAA_FIELD(auth.rate_limit_query_per_minute), 1, max_count),
      uint_var("RATE_LIMIT_GENERAL_PER_MINUTE", "other requests per key and minute",
               CAA_FIELD(auth.rate_limit_general_per_minute), 1, max_count),
      uint_var("RATE_LIMIT_SYNC_INTERVAL",
               "milliseconds between two reconciliations of this node's rate limits with Redis",
               CAA_FIELD(auth.rate_limit_sync_interval_ms),
               defaults::min_rate_limit_sync_interval_ms,
               defaults::max_rate_limit_sync_interval_ms),
      uint_var("AUTH_FAILURES_PER_MINUTE", "failed authentications per client address and minute",
               CAA_FIELD(auth.auth_failures_per_minute), 1, max_count),
      secret_var("METRICS_TOKEN", "bearer token for /metrics (secret)",
                 CAA_FIELD(auth.metrics_token), metrics_token,
                 "must be at least 16 printable characters without blanks"),
      secret_var("ANTHROPIC_API_KEY", "model API key, passed to the CLI only (secret)",
                 CAA_FIELD(agent.anthropic_api_key), token,
                 "must be printable characters without blanks"),
      base_url_var(),
      text_var("CLAUDE_CLI_PATH", "the Claude Code CLI executable", CAA_FIELD(agent.cli_path),
               nonempty_path, "must be a non-empty path"),
      text_var("WORKSPACE_ROOT", "directory of session workspaces", CAA_FIELD(agent.workspace_root),
               nonempty_path, "must be a non-empty path"),
      uint_var("MAX_AGENT_PROCESSES", "agent process budget (0: derive from memory)",
               CAA_FIELD(agent.max_agent_processes), 0, 4096),
      uint_var("AGENT_IO_THREADS", "threads driving the agent processes' pipes",
               CAA_FIELD(agent.io_threads), 1, defaults::max_io_threads),
      uint_var("MAX_CONCURRENT_SPAWNS",
               "agent processes starting at once (0: the number of CPU cores)",
               CAA_FIELD(agent.max_concurrent_spawns), 0, 4096),
      uint_var("TENANT_MAX_AGENT_PROCESSES",
               "agent processes one tenant may hold (0: half the budget, at least 1)",
               CAA_FIELD(agent.tenant_max_agent_processes), 0, 4096),
      uint_var("WARM_POOL_SIZE", "warm agent processes per tenant-and-options key (0: none)",
               CAA_FIELD(agent.warm_pool_size), 0, 64),
      uint_var("WARM_POOL_KEYS", "tenant-and-options keys kept warm (most recently used)",
               CAA_FIELD(agent.warm_pool_keys), 1, 256),
      seconds_var("ADMISSION_WAIT", "seconds to wait for a process slot",
                  CAA_FIELD(agent.admission_wait)),
      seconds_var("SESSION_IDLE_TIMEOUT", "idle seconds before a session's process stops",
                  CAA_FIELD(agent.session_idle_timeout)),
      seconds_var("TURN_TIMEOUT", "seconds one turn may take", CAA_FIELD(agent.turn_timeout)),
      seconds_var("PERMISSION_TIMEOUT", "seconds to wait for a permission answer",
                  CAA_FIELD(agent.permission_timeout)),
      seconds_var("STREAM_STALL_TIMEOUT",
                  "seconds a stream may take nothing while events wait for it before it is cut",
                  CAA_FIELD(agent.stream_stall_timeout)),
      seconds_var("DRAIN_GRACE_PERIOD", "seconds in-flight work may finish at shutdown",
                  CAA_FIELD(agent.drain_grace_period)),
      sandbox_var(),
      uint_var("AGENT_UID_BASE", "first host uid of the tenants' sandbox uids",
               CAA_FIELD(sandbox.uid_base), 1000, 4000000000u),
      uint_var("AGENT_UID_COUNT", "number of sandbox uids (tenants at most)",
               CAA_FIELD(sandbox.uid_count), 1, 200000000u),
      bytes_var("AGENT_MEMORY_MAX", "memory cap of a session's processes, bytes (K/M/G suffix)",
                CAA_FIELD(sandbox.memory_max), 16ull << 20),
      uint_var("AGENT_PIDS_MAX", "process cap of a session's processes",
               CAA_FIELD(sandbox.pids_max), 8, 1000000),
      uint_var("AGENT_CPU_WEIGHT", "CPU weight of a session's processes (0: host default)",
               CAA_FIELD(sandbox.cpu_weight), 0, 10000),
      bytes_var("TENANT_DISK_QUOTA", "bytes of a tenant's workspace and config (0: no quota)",
                CAA_FIELD(sandbox.disk_quota), 0),
      uint_var("USAGE_FLUSH_INTERVAL",
               "milliseconds between writes of the model proxy's usage counts",
               CAA_FIELD(sandbox.usage_flush_interval_ms), 10, 600000),
      text_var("AGENT_RUNTIME_DIR", "directory of the sandboxes' sockets and files",
               CAA_FIELD(sandbox.runtime_dir), nonempty_path, "must be a non-empty path"),
      list_var("AGENT_EGRESS_ALLOW",
               "domains the agents' tools may reach (HTTP CONNECT proxy), comma list",
               CAA_FIELD(sandbox.egress_allow), keep_if<token>, "a domain, .domain or host:port"),
      list_var("BYPASS_PERMISSIONS_TENANTS", "tenants allowed to bypass permissions, comma list",
               CAA_FIELD(agent.bypass_tenants), keep_if<token>, "a tenant name"),
      durability_var(),
      list_var("TENANT_DURABILITY_ALLOW",
               "tenants that may choose a turn's durability async, comma list",
               CAA_FIELD(agent.durability_tenants), keep_if<token>, "a tenant name"),
      uint_var("EVENT_FLUSH_INTERVAL", "milliseconds within which an async event is stored",
               CAA_FIELD(agent.event_flush_interval_ms), 1, 60000),
      list_var("EGRESS_ALLOW_CIDRS", "private networks outbound calls may reach, CIDR list",
               CAA_FIELD(egress.allow_cidrs), keep_if<cidr>, "an IP address or CIDR"),
      bool_var("WEBHOOK_ALLOW_HTTP", "allow plain-http webhooks",
               CAA_FIELD(egress.webhook_allow_http)),
      list_var("MCP_STDIO_ALLOWED_COMMANDS", "MCP stdio commands allowed, comma list of paths",
               CAA_FIELD(egress.mcp_stdio_allowed_commands), keep_if<abs_path>,
               "an absolute path without . or .. segments"),
      tenant_variables_var(),
      text_var("NODE_ID", "this node's id in the cluster (empty: hostname-pid)",
               CAA_FIELD(cluster.node_id), node_id,
               "must be at most 128 printable characters without blanks"),
      uint_var("CLUSTER_PORT", "cluster port (0: no remote publishing)",
               CAA_FIELD(cluster.cluster_port), 0, 65535),
      text_var("CLUSTER_ADVERTISE_HOST",
               "the only address the cluster port listens on, told to the other nodes",
               CAA_FIELD(cluster.advertise_host), api_host, "must be a host name or IP address"),
      secret_var("CLUSTER_SECRET",
                 "shared secret peers present (secret; unset: the cluster port stays closed)",
                 CAA_FIELD(cluster.shared_secret), cluster_secret,
                 "must be at least 16 printable characters without blanks"),
      seconds_var("CLUSTER_HEARTBEAT", "seconds between two announcements of this node in Redis",
                  CAA_FIELD(cluster.heartbeat), 3600),
      seconds_var("CLUSTER_NODE_TTL", "seconds without an announcement before a node is gone",
                  CAA_FIELD(cluster.node_ttl), 86400),
      seconds_var("SESSION_LEASE_TTL",
                  "seconds a session's ownership lease runs without renewal (cluster)",
                  CAA_FIELD(cluster.lease_ttl), 3600),
  };
}

#undef CAA_FIELD

}  // namespace

const std::vector<variable>& variables() {
  static const std::vector<variable> table = make_variables();
  return table;
}

const variable* find_variable(std::string_view name) {
  const auto& xs = variables();
  auto i = std::find_if(xs.begin(), xs.end(), [&](const variable& x) { return x.name == name; });
  return i == xs.end() ? nullptr : &*i;
}

std::string flag_of(std::string_view name) {
  std::string out{name};
  std::transform(out.begin(), out.end(), out.begin(), [](char c) {
    return c == '_' ? '-' : (c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
  });
  return out;
}

}  // namespace caa::config
