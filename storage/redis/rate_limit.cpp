#include "storage/redis/rate_limit.hpp"

#include "config/errc.hpp"
#include "config/logging.hpp"
#include "config/metrics_catalog.hpp"
#include "storage/crypto.hpp"

#include <caf/event_based_actor.hpp>

#include <algorithm>
#include <cstdlib>
#include <memory>

namespace caa::storage {

const std::string_view reconcile_script = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local out = {}
for i, key in ipairs(KEYS) do
  local capacity = tonumber(ARGV[2 * i - 1])
  local taken = tonumber(ARGV[2 * i])
  if capacity == nil or capacity <= 0 or taken == nil then
    out[i] = '0'
  else
    local rate = capacity / 60
    local state = redis.call('HMGET', key, 'tokens', 'ts')
    local tokens = tonumber(state[1])
    local ts = tonumber(state[2])
    if tokens == nil or ts == nil then
      tokens = capacity
      ts = now
    end
    if now > ts then
      tokens = math.min(capacity, tokens + (now - ts) * rate)
      ts = now
    end
    tokens = tokens - taken
    redis.call('HSET', key, 'tokens', tostring(tokens), 'ts', tostring(ts))
    redis.call('EXPIRE', key, math.max(120, math.ceil((capacity - tokens) / rate) + 60))
    out[i] = tostring(tokens)
  end
end
return out
)lua";

std::string rate_limit_key(std::string_view bucket_key) {
  return "caa:rl:" + std::string{bucket_key};
}

// -- reconciliation ----------------------------------------------------------------------------

namespace {

/// Says once per outage that the buckets decide alone.
constexpr std::string_view outage_once_key = "redis-rate-limit-fallback";

const std::string& reconcile_sha() {
  static const std::string sha = sha1_hex(reconcile_script);
  return sha;
}

/// What the reconciliation actor works with.
struct sync_context {
  redis_actor redis;
  std::shared_ptr<node_buckets> buckets;
  std::shared_ptr<bucket_sync_stats> stats;
  bucket_sync_options opts;
};

using context_ptr = std::shared_ptr<const sync_context>;

/// One round: its reports and the calls still out (touched only by the actor).
struct sync_round {
  std::vector<bucket_report> reports;
  std::size_t pending = 0;
  std::string failure;  ///< why a call failed; empty while none did
};

using round_ptr = std::shared_ptr<sync_round>;

void schedule_next(caf::event_based_actor* self, const context_ptr& ctx) {
  self->delayed_send(self, ctx->opts.interval, caf::tick_atom_v);
}

void call_done(caf::event_based_actor* self, const context_ptr& ctx, const round_ptr& round) {
  if (--round->pending > 0) return;
  if (round->failure.empty()) {
    ctx->stats->rounds.fetch_add(1, std::memory_order_relaxed);
    metrics::service().rate_limit_sync_ok.inc();
    log::rearm_once(outage_once_key);
  } else {
    ctx->stats->failures.fetch_add(1, std::memory_order_relaxed);
    metrics::service().rate_limit_sync_failed.inc();
    log::warn_once(outage_once_key, "rate limit: redis unavailable, using local buckets",
                   {.component = "redis", .detail = round->failure});
  }
  schedule_next(self, ctx);
}

void send_call(caf::event_based_actor* self, const context_ptr& ctx, const round_ptr& round,
               std::size_t first, std::size_t count, bool by_sha) {
  self->request(ctx->redis, ctx->opts.timeout,
                reconcile_command(round->reports, first, count, by_sha))
      .then(
          [self, ctx, round, first, count, by_sha](redis_reply& r) {
            if (by_sha && r.kind == redis_reply_kind::error && r.str.starts_with("NOSCRIPT")) {
              send_call(self, ctx, round, first, count, false);  // EVAL caches the script
              return;
            }
            auto left = parse_reconcile_reply(r, count);
            if (left) {
              auto now = steady_seconds();
              for (std::size_t i = 0; i < count; ++i)
                ctx->buckets->apply(round->reports[first + i].key, (*left)[i], now);
            } else if (round->failure.empty()) {
              round->failure = "unexpected reply: " + r.str;
            }
            call_done(self, ctx, round);
          },
          [self, ctx, round](caf::error& e) {
            if (round->failure.empty())
              round->failure = e.category() == errc_category
                                   ? std::string{to_string(errc_of(e))}
                                   : caf::to_string(e);  // e.g. request_timeout
            call_done(self, ctx, round);
          });
}

caf::behavior bucket_sync(caf::event_based_actor* self, const context_ptr& ctx) {
  schedule_next(self, ctx);
  return {[self, ctx](caf::tick_atom) {
    auto round = std::make_shared<sync_round>();
    round->reports = ctx->buckets->collect(steady_seconds());
    auto n = round->reports.size();
    metrics::service().rate_limit_sync_buckets.set(static_cast<int64_t>(n));
    if (n == 0) return schedule_next(self, ctx);
    auto per_call = std::max<std::size_t>(1, ctx->opts.buckets_per_call);
    round->pending = (n + per_call - 1) / per_call;
    for (std::size_t first = 0; first < n; first += per_call)
      send_call(self, ctx, round, first, std::min(per_call, n - first), true);
  }};
}

}  // namespace

redis_command reconcile_command(const std::vector<bucket_report>& reports, std::size_t first,
                                std::size_t count, bool by_sha) {
  first = std::min(first, reports.size());
  count = std::min(count, reports.size() - first);
  redis_command cmd;
  cmd.args.reserve(3 + 3 * count);
  if (by_sha) {
    cmd.args.emplace_back("EVALSHA");
    cmd.args.push_back(reconcile_sha());
  } else {
    cmd.args.emplace_back("EVAL");
    cmd.args.emplace_back(reconcile_script);
  }
  cmd.args.push_back(std::to_string(count));
  for (std::size_t i = first; i < first + count; ++i)
    cmd.args.push_back(rate_limit_key(reports[i].key));
  for (std::size_t i = first; i < first + count; ++i) {
    cmd.args.push_back(std::to_string(reports[i].per_minute));
    cmd.args.push_back(std::to_string(reports[i].taken));
  }
  return cmd;
}

std::optional<std::vector<double>> parse_reconcile_reply(const redis_reply& r, std::size_t n) {
  if (r.kind != redis_reply_kind::array || r.elements.size() != n) return std::nullopt;
  std::vector<double> out;
  out.reserve(n);
  for (const auto& e : r.elements) {
    char* end = nullptr;
    auto x = std::strtod(e.c_str(), &end);
    if (e.empty() || end != e.c_str() + e.size()) return std::nullopt;
    out.push_back(x);
  }
  return out;
}

caf::actor spawn_bucket_sync(caf::actor_system& sys, redis_actor redis,
                             std::shared_ptr<node_buckets> buckets,
                             std::shared_ptr<bucket_sync_stats> stats,
                             const bucket_sync_options& opts) {
  auto ctx = std::make_shared<const sync_context>(
      sync_context{std::move(redis), std::move(buckets), std::move(stats), opts});
  // The context goes in as a spawn argument (not a capture) to keep 0.17.6 UBSan-clean.
  return sys.spawn(bucket_sync, ctx);
}

}  // namespace caa::storage
