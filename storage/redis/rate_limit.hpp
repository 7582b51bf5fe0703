#pragma once

#include "storage/redis/redis_pool.hpp"
#include "storage/redis/token_bucket.hpp"

#include <caf/actor_system.hpp>
#include <caf/timespan.hpp>

#include <chrono>
#include <functional>
#include <string>
#include <string_view>

namespace caa::storage {

/// The Lua token-bucket script (KEYS[1] bucket, ARGV[1] per-minute limit; Redis TIME is the
/// clock; the key expires after 120 s idle). Returns {allowed 0|1, retry_after seconds as text}.
extern const std::string_view token_bucket_script;

/// The Redis key of bucket `bucket_key`.
std::string rate_limit_key(std::string_view bucket_key);

/// Takes one token from bucket `bucket_key` (e.g. "<key id>:query") with capacity `per_minute`
/// and refill per_minute/60 per second, in ONE Redis round trip (EVALSHA; EVAL on NOSCRIPT).
/// Calls `done` exactly once: on a CAF thread, or on the caller's thread when no round trip is
/// needed (no limit, no pool). Never fails because of Redis: when Redis errs,
/// is down, or does not answer within `timeout`, the process-local `fallback_buckets()` decide
/// (same maths; logged once per outage). `per_minute == 0` means no limit.
void take_token(caf::actor_system& sys, redis_actor redis, const std::string& bucket_key,
                unsigned per_minute,
                const std::function<void(bool allowed, double retry_after_s)>& done,
                caf::timespan timeout = std::chrono::milliseconds{500});

/// The in-process buckets used while Redis is unavailable (process-wide).
local_buckets& fallback_buckets();

}  // namespace caa::storage
