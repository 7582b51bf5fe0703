#include "storage/redis/rate_limit.hpp"

#include "config/errc.hpp"
#include "config/logging.hpp"
#include "storage/bridge.hpp"
#include "storage/crypto.hpp"

#include <cstdlib>
#include <memory>

namespace caa::storage {

const std::string_view token_bucket_script = R"lua(
local capacity = tonumber(ARGV[1])
local rate = capacity / 60
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
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
local allowed = 0
local retry = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  retry = (1 - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(ts))
redis.call('EXPIRE', KEYS[1], 120)
return {allowed, tostring(retry)}
)lua";

namespace {

using done_fn = std::function<void(bool, double)>;

const std::string& script_sha() {
  static const std::string sha = sha1_hex(token_bucket_script);
  return sha;
}

/// Decides locally and says so once per outage.
void fall_back(const std::string& bucket_key, unsigned per_minute, const std::string& why,
               const done_fn& done) {
  log::warn_once("redis-rate-limit-fallback", "rate limit: redis unavailable, using local buckets",
                 {.component = "redis", .detail = why});
  auto d = fallback_buckets().take(bucket_key, per_minute, steady_seconds());
  done(d.allowed, d.retry_after_s);
}

/// Reads {allowed, retry_after} from the script's reply.
bool parse_decision(const redis_reply& r, token_decision& out) {
  if (r.kind != redis_reply_kind::array || r.elements.size() != 2) return false;
  char* end = nullptr;
  out.allowed = r.elements[0] == "1";
  out.retry_after_s = std::strtod(r.elements[1].c_str(), &end);
  return end != r.elements[1].c_str();
}

void eval(caf::actor_system& sys, redis_actor redis, const std::string& bucket_key,
          unsigned per_minute, const done_fn& done, caf::timespan timeout, bool by_sha) {
  redis_command cmd;
  if (by_sha)
    cmd.args = {"EVALSHA", script_sha()};
  else
    cmd.args = {"EVAL", std::string{token_bucket_script}};
  cmd.args.insert(cmd.args.end(), {"1", rate_limit_key(bucket_key), std::to_string(per_minute)});
  auto on_reply = [&sys, redis, bucket_key, per_minute, done, timeout,
                   by_sha](const redis_reply& r) {
    if (by_sha && r.kind == redis_reply_kind::error && r.str.starts_with("NOSCRIPT")) {
      eval(sys, redis, bucket_key, per_minute, done, timeout, false);  // EVAL caches the script
      return;
    }
    token_decision d;
    if (!parse_decision(r, d)) {
      fall_back(bucket_key, per_minute, "unexpected reply: " + r.str, done);
      return;
    }
    log::rearm_once("redis-rate-limit-fallback");
    done(d.allowed, d.retry_after_s);
  };
  auto on_error = [bucket_key, per_minute, done](const caf::error& e) {
    auto why = e.category() == errc_category ? std::string{to_string(errc_of(e))}
                                             : caf::to_string(e);  // e.g. request_timeout
    fall_back(bucket_key, per_minute, why, done);
  };
  async_request<redis_reply>(sys, std::move(redis), timeout,
                             std::function<void(redis_reply)>{std::move(on_reply)},
                             std::function<void(caf::error)>{std::move(on_error)}, std::move(cmd));
}

}  // namespace

std::string rate_limit_key(std::string_view bucket_key) {
  return "caa:rl:" + std::string{bucket_key};
}

void take_token(caf::actor_system& sys, redis_actor redis, const std::string& bucket_key,
                unsigned per_minute,
                const std::function<void(bool allowed, double retry_after_s)>& done,
                caf::timespan timeout) {
  if (per_minute == 0) {
    done(true, 0.0);
    return;
  }
  if (!redis) {
    fall_back(bucket_key, per_minute, "no redis pool", done);
    return;
  }
  eval(sys, std::move(redis), bucket_key, per_minute, done, timeout, true);
}

local_buckets& fallback_buckets() {
  static local_buckets buckets;
  return buckets;
}

}  // namespace caa::storage
