#include "actors/service.hpp"

#include "actors/admission.hpp"
#include "actors/agent_io.hpp"
#include "actors/capabilities.hpp"
#include "actors/cluster.hpp"
#include "actors/health_monitor.hpp"
#include "actors/registry.hpp"
#include "actors/system_config.hpp"
#include "actors/usage_meter.hpp"
#include "actors/warm_pool.hpp"
#include "config/errc.hpp"
#include "config/logging.hpp"
#include "config/metrics_catalog.hpp"
#include "storage/bridge.hpp"
#include "storage/postgres/event_writer.hpp"
#include "storage/postgres/key_repository.hpp"
#include "storage/postgres/migrations.hpp"
#include "storage/postgres/session_repository.hpp"
#include "transport/api/limiter.hpp"
#include "transport/api/routes.hpp"
#include "transport/api/turn_builder.hpp"
#include "transport/http/server.hpp"
#include "transport/outbound/client.hpp"
#include "transport/sandbox/model_proxy.hpp"
#include "transport/sandbox/sandbox.hpp"

#include <caf/all.hpp>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <limits>
#include <thread>

namespace caa {

namespace {

using namespace std::chrono_literals;

/// Applies the migrations, retrying while PostgreSQL is still starting (at most ~60 s).
bool migrate(const settings& cfg) {
  auto delay = 250ms;
  for (int attempt = 1; attempt <= 12; ++attempt) {
    auto report = storage::run_migrations(cfg.storage.database_url);
    if (report) {
      log::info("migrations applied", {.component = "storage", .count = report->applied.size()});
      return true;
    }
    auto code = errc_of(report.error());
    log::warn(
        "migrations failed",
        {.component = "storage", .error_code = to_string(code), .attempt = uint64_t(attempt)});
    if (code != errc::unavailable) return false;
    std::this_thread::sleep_for(delay);
    delay = std::min(delay * 2, std::chrono::milliseconds{8000});
  }
  return false;
}

/// Blocks until SIGINT or SIGTERM (signals are blocked in every thread by `main`).
int wait_for_signal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  int sig = 0;
  sigwait(&set, &sig);
  return sig;
}

/// The membership's settings; a cluster port without CLUSTER_SECRET stays closed (said here).
cluster_deps make_cluster_deps(const settings& cfg, const storage::redis_actor& redis) {
  const auto& c = cfg.cluster;
  cluster_deps d;
  d.node_id = c.node_id;
  d.host = c.advertise_host;
  d.heartbeat = std::chrono::duration_cast<caf::timespan>(c.heartbeat);
  d.node_ttl = std::chrono::duration_cast<caf::timespan>(c.node_ttl);
  d.redis_timeout = std::chrono::duration_cast<caf::timespan>(cfg.storage.redis_timeout);
  if (c.cluster_port > 0 && !c.shared_secret)
    log::warn(
        "CLUSTER_PORT is set but CLUSTER_SECRET is not: the cluster port stays closed and "
        "this node runs single",
        {.component = "cluster", .port = c.cluster_port});
  if (c.enabled()) {
    d.port = c.cluster_port;
    d.shared_secret = c.shared_secret;
    d.redis = redis;
  }
  return d;
}

/// How many agent processes may start at once (MAX_CONCURRENT_SPAWNS, 0: the cores).
unsigned concurrent_spawns(const settings& cfg) {
  return cfg.agent.max_concurrent_spawns > 0 ? cfg.agent.max_concurrent_spawns
                                             : std::max(1u, std::thread::hardware_concurrency());
}

}  // namespace

/// Starts the agent sandbox of AGENT_SANDBOX=strict (false: a requirement is missing, said in
/// the log), or says loudly that agents run without it.
static bool start_sandbox(const settings& cfg, agent_io& io,
                          const std::shared_ptr<usage_tally>& tally) {
  if (!cfg.sandbox.strict) {
    log::warn(
        "AGENT_SANDBOX=off (DEBUG): agents run WITHOUT the sandbox, as the service's own "
        "user, with the host's network and the model key in their environment",
        {.component = "sandbox"});
    return true;
  }
  // Runs on an I/O thread once per model request: counted in memory only (the usage meter
  // writes the counts in batches).
  auto box = sandbox::host::start(io.context(), cfg, [tally](const sandbox::usage_record& u) {
    log::debug("model request", {.component = "sandbox",
                                 .status = u.status,
                                 .tenant_id = u.tenant_id,
                                 .count = u.input_tokens + u.output_tokens});
    tally->add(u.tenant_id, u.session_id,
               {u.requests, u.input_tokens, u.output_tokens, u.cache_creation_input_tokens,
                u.cache_read_input_tokens});
    metrics::tenant_model_requests(u.tenant_id, u.requests);
  });
  if (!box) {
    auto why = render_errc(box.error().code(), box.error().context());
    log::error("the agent sandbox cannot start; exiting", {.component = "sandbox", .detail = why});
    std::fprintf(stderr, "claude-agent-api: %s\n", why.c_str());
    return false;
  }
  log::info("agent sandbox on", {.component = "sandbox", .detail = (*box)->description()});
  io.set_sandbox(std::move(*box));
  return true;
}

int run_service(const settings& cfg) {
  log::info("starting", {.component = "service", .port = cfg.http.port});
  if (!migrate(cfg)) {
    log::error("cannot prepare the database; exiting", {.component = "storage"});
    return 1;
  }
  // The agent I/O threads outlive the actor system: sessions use them until they end.
  // As many launch threads as processes may start at once (a launch mostly waits in the
  // kernel), within reason.
  agent_io io{cfg.agent.io_threads, std::min(concurrent_spawns(cfg), 64u)};
  auto tally = std::make_shared<usage_tally>();
  if (!start_sandbox(cfg, io, tally)) return 1;
  system_config sys_cfg{cfg};
  caf::actor_system sys{sys_cfg};
  // The HTTP edge's requests to actors go out from these (storage/bridge.hpp): two per worker,
  // so that a long callback on one holds up few others.
  request_edges requests{sys, 2 * sys.scheduler().num_workers()};
  auto pg_cfg = storage::pg_pool_config::from(cfg.storage);
  auto pg = storage::spawn_pg_pool(sys, pg_cfg);
  auto redis = storage::spawn_redis_pool(sys, storage::redis_pool_config::from(cfg.storage));
  if (!redis) {
    log::error("invalid REDIS_URL", {.component = "redis"});
    return 1;
  }
  auto stop_pools = [&] {
    caf::anon_send_exit(pg, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(*redis, caf::exit_reason::user_shutdown);
  };
  auto timeout = storage::pg_request_timeout(pg_cfg);
  if (cfg.auth.bootstrap_key) {
    auto seeded = storage::seed_bootstrap_key_blocking(sys, pg, timeout, *cfg.auth.bootstrap_key);
    if (!seeded) {
      log::error("cannot seed the bootstrap key (API_KEY)",
                 {.component = "auth", .error_code = to_string(errc_of(seeded.error()))});
      stop_pools();
      return 1;
    }
    log::info("bootstrap admin key ready", {.component = "auth", .key_id = seeded->id});
  }
  // Sessions this node left running (a crash or kill -9) end with a terminal event now. In a
  // cluster only its own (or unowned) ones: the others' belong to live nodes or are taken over
  // through their leases.
  auto cluster_cfg = make_cluster_deps(cfg, *redis);
  auto recovered = storage::recover_running_blocking(
      sys, pg, timeout,
      cluster_cfg.clustered() ? std::optional<std::string>{cfg.cluster.node_id} : std::nullopt);
  if (recovered && !recovered->empty())
    log::warn("sessions interrupted by the previous stop",
              {.component = "sessions", .count = recovered->size()});
  auto budget =
      cfg.agent.max_agent_processes > 0 ? cfg.agent.max_agent_processes : default_process_budget();
  auto to_span = [](seconds_d d) { return std::chrono::duration_cast<caf::timespan>(d); };
  auto spawns = concurrent_spawns(cfg);
  admission_config adm_cfg;
  adm_cfg.budget = budget;
  adm_cfg.wait = to_span(cfg.agent.admission_wait);
  adm_cfg.max_starting = spawns;
  adm_cfg.tenant_share = resolve_tenant_share(budget, cfg.agent.tenant_max_agent_processes);
  adm_cfg.pg = pg;
  auto admission = spawn_admission(sys, adm_cfg);
  auto meter = spawn_usage_meter(sys, tally, pg,
                                 std::chrono::milliseconds{cfg.sandbox.usage_flush_interval_ms});
  storage::event_writer_config writer_cfg;
  writer_cfg.timeout = timeout;
  auto writer = storage::spawn_event_writer(sys, pg, writer_cfg);
  tenant_workspace workspace{cfg.agent.workspace_root};
  registry_deps rdeps;
  rdeps.sessions.pg = pg;
  rdeps.sessions.writer = writer;
  rdeps.sessions.admission = admission;
  auto launcher = make_process_launcher(io);
  rdeps.sessions.launcher = launcher;
  rdeps.sessions.db_timeout = timeout;
  rdeps.sessions.admission_wait = to_span(cfg.agent.admission_wait);
  rdeps.sessions.idle_timeout = to_span(cfg.agent.session_idle_timeout);
  rdeps.sessions.turn_timeout = to_span(cfg.agent.turn_timeout);
  rdeps.sessions.permission_timeout = to_span(cfg.agent.permission_timeout);
  rdeps.sessions.stall_timeout = to_span(cfg.agent.stream_stall_timeout);
  rdeps.sessions.flush_interval = std::chrono::milliseconds{cfg.agent.event_flush_interval_ms};
  rdeps.sessions.webhooks = outbound::client::make(io.context(), outbound::make_egress_policy(cfg));
  rdeps.drain_grace = to_span(cfg.agent.drain_grace_period);
  if (cluster_cfg.clustered()) {
    // Sessions hold ownership leases only in a cluster (a single node owns everything).
    rdeps.sessions.node_id = cfg.cluster.node_id;
    rdeps.sessions.lease_ttl = to_span(cfg.cluster.lease_ttl);
    // Turns other nodes forward are built here as this node's own are (outlives the actors:
    // the service stops them before it returns).
    rdeps.sessions.rebuild_turn = [&cfg, &workspace](const portable_turn& turn) {
      return api::rebuild_turn(turn, cfg, workspace);
    };
  }
  if (cfg.agent.warm_pool_size > 0)
    rdeps.warm = spawn_warm_pool(
        sys, {cfg.agent.warm_pool_size, cfg.agent.warm_pool_keys, launcher, admission});
  // The membership first: the registry reaches the sessions other nodes own through it, and
  // places new sessions on other nodes when this one is full.
  cluster_cfg.budget = budget;
  auto cluster = spawn_cluster(sys, cluster_cfg);
  rdeps.cluster = cluster;
  auto registry = spawn_registry(sys, rdeps);
  log::info("agent process budget", {.component = "admission", .count = budget});
  health_board board;
  auto monitor = spawn_health_monitor(sys, {pg, *redis, cfg.agent.cli_path, &board});
  auto keys = std::make_shared<storage::key_repository>(sys, pg, timeout);
  auto authenticator = std::make_shared<auth::key_authenticator>(
      api::make_key_lookup(keys),
      std::chrono::duration_cast<std::chrono::milliseconds>(cfg.auth.key_cache_ttl));
  // Open connections of a revoked key end within KEY_CACHE_TTL on every node: each node asks
  // PostgreSQL every half TTL which keys of its open connections are revoked.
  authenticator->set_revocation_check(api::make_revoked_lookup(keys));
  auto revocation_period = std::max<caf::timespan>(
      std::chrono::milliseconds{250},
      std::chrono::duration_cast<caf::timespan>(cfg.auth.key_cache_ttl) / 2);
  // Arguments, not captures: CAF 0.17.6 spawns argument-less function actors with UB.
  auto revocations = sys.spawn(
      [](caf::event_based_actor* self, const std::shared_ptr<auth::key_authenticator>& auth,
         caf::timespan period) {
        self->send(self, atom::timeout_v);
        return caf::behavior{[=](atom::timeout) {
          auth->check_revocations();
          self->delayed_send(self, period, atom::timeout_v);
        }};
      },
      authenticator, revocation_period);
  api::redis_rate_limiter limiter{
      sys, *redis, cfg.auth, std::chrono::duration_cast<caf::timespan>(cfg.storage.redis_timeout)};
  capabilities_deps cdeps;
  cdeps.cfg = &cfg;
  cdeps.workspace = &workspace;
  cdeps.launcher = launcher;
  cdeps.admission = admission;
  cdeps.admission_wait = adm_cfg.wait;
  auto capabilities = spawn_capabilities(sys, cdeps);
  auto limits_changed = [admission](const std::string& tenant, std::optional<uint32_t> share) {
    auto own =
        share
            ? static_cast<int32_t>(std::min<uint32_t>(*share, std::numeric_limits<int32_t>::max()))
            : -1;
    caf::anon_send(admission, atom::share_v, tenant, own);
  };
  api::api_context ctx{&sys,   &cfg,     pg,         *redis,       keys,    authenticator,
                       &board, registry, &workspace, capabilities, cluster, limits_changed};
  http::edge_options edge_opts;
  edge_opts.auth_failures_per_minute = cfg.auth.auth_failures_per_minute;
  http::server edge{cfg.http, api::make_router(ctx), *authenticator, limiter, edge_opts};
  node_gate_actor gate;
  // Every actor spawned above ends here: the actor system waits for all of them when it goes
  // (a path that forgets one never exits).
  auto stop_actors = [&] {
    io.stop_inline();  // from here on every actor runs on the system's own threads
    caf::anon_send_exit(registry, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(capabilities, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(meter, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(admission, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(writer, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(monitor, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(revocations, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(cluster, caf::exit_reason::user_shutdown);
    if (gate) caf::anon_send_exit(gate, caf::exit_reason::user_shutdown);
    if (rdeps.warm) caf::anon_send_exit(rdeps.warm, caf::exit_reason::user_shutdown);
    requests.stop();
    stop_pools();
  };
  if (cluster_cfg.clustered()) {
    gate = spawn_node_gate(sys, cfg.cluster.node_id, *cfg.cluster.shared_secret, registry);
    auto bound = publish_node_gate(sys, gate, cfg.cluster.advertise_host, cfg.cluster.cluster_port);
    if (!bound) {
      log::error("cannot open the cluster port", {.component = "cluster",
                                                  .detail = caf::to_string(bound.error()),
                                                  .port = cfg.cluster.cluster_port});
      stop_actors();
      return 1;
    }
    log::info("cluster port open",
              {.component = "cluster", .detail = cfg.cluster.advertise_host, .port = *bound});
  }
  try {
    edge.start();
  } catch (const std::exception&) {
    log::error("cannot listen", {.component = "http", .port = cfg.http.port});
    stop_actors();
    return 1;
  }
  log::info("listening", {.component = "http", .port = edge.port()});
  int sig = wait_for_signal();
  log::info("shutting down",
            {.component = "service", .detail = sig == SIGINT ? "SIGINT" : "SIGTERM"});
  // Drain: readiness and new turns answer 503, running turns get the grace period, then are
  // interrupted; sessions hibernate (no agent process left); events are flushed; then stop.
  board.set_draining();
  {
    caf::scoped_actor self{sys};
    auto grace = to_span(cfg.agent.drain_grace_period) + std::chrono::seconds{20};
    self->request(registry, grace, atom::drain_v)
        .receive([](bool) {},
                 [](caf::error&) {
                   log::warn("drain did not finish in time", {.component = "service"});
                 });
    // A barrier through the event writer: everything emitted so far is committed.
    self->request(writer, std::chrono::seconds{15}, atom::append_v,
                  std::vector<storage::session_event>{})
        .receive([](uint64_t) {}, [](caf::error&) {});
    // The model proxy's last counts (no agent runs any more).
    self->request(meter, std::chrono::seconds{12}, atom::drain_v)
        .receive([](bool) {}, [](caf::error&) {});
  }
  edge.stop();
  stop_actors();
  log::info("stopped", {.component = "service"});
  return 0;
}

}  // namespace caa
