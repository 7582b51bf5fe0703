#include "actors/service.hpp"

#include "actors/health_monitor.hpp"
#include "actors/system_config.hpp"
#include "config/logging.hpp"
#include "storage/postgres/key_repository.hpp"
#include "storage/postgres/migrations.hpp"
#include "transport/api/limiter.hpp"
#include "transport/api/routes.hpp"
#include "transport/http/server.hpp"

#include <caf/all.hpp>

#include <csignal>
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
      log::info("migrations applied",
                {.component = "storage", .count = report->applied.size()});
      return true;
    }
    auto code = errc_of(report.error());
    log::warn("migrations failed",
              {.component = "storage", .error_code = to_string(code), .attempt = uint64_t(attempt)});
    if (code != errc::unavailable)
      return false;
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

}  // namespace

int run_service(const settings& cfg) {
  log::info("starting", {.component = "service", .port = cfg.http.port});
  if (!migrate(cfg)) {
    log::error("cannot prepare the database; exiting", {.component = "storage"});
    return 1;
  }
  system_config sys_cfg{cfg};
  caf::actor_system sys{sys_cfg};
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
  api::health_board board;
  auto monitor = spawn_health_monitor(sys, {pg, *redis, cfg.agent.cli_path, &board});
  auto keys = std::make_shared<storage::key_repository>(sys, pg, timeout);
  auto authenticator = std::make_shared<auth::key_authenticator>(
    api::make_key_lookup(keys),
    std::chrono::duration_cast<std::chrono::milliseconds>(cfg.auth.key_cache_ttl));
  api::redis_rate_limiter limiter{sys, *redis, cfg.auth,
                                  std::chrono::duration_cast<caf::timespan>(cfg.storage.redis_timeout)};
  api::api_context ctx{&sys, &cfg, pg, *redis, keys, authenticator, &board};
  http::server edge{cfg.http, api::make_router(ctx), *authenticator, limiter};
  try {
    edge.start();
  } catch (const std::exception&) {
    log::error("cannot listen", {.component = "http", .port = cfg.http.port});
    caf::anon_send_exit(monitor, caf::exit_reason::user_shutdown);
    stop_pools();
    return 1;
  }
  log::info("listening", {.component = "http", .port = edge.port()});
  int sig = wait_for_signal();
  log::info("shutting down", {.component = "service", .detail = sig == SIGINT ? "SIGINT" : "SIGTERM"});
  // Drain: fail readiness, stop accepting, let in-flight requests answer, then stop the actors.
  board.set_draining();
  edge.stop_accepting();
  edge.stop();
  caf::anon_send_exit(monitor, caf::exit_reason::user_shutdown);
  stop_pools();
  log::info("stopped", {.component = "service"});
  return 0;
}

}  // namespace caa
