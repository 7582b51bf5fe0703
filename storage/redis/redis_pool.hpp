#pragma once

#include "config/settings.hpp"
#include "storage/types.hpp"

#include <caf/actor_system.hpp>
#include <caf/expected.hpp>
#include <caf/replies_to.hpp>
#include <caf/timespan.hpp>
#include <caf/typed_actor.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace caa::storage {

/// The Redis pool: a round-robin router in front of detached workers that each own one hiredis
/// context. A command fails with `errc::unavailable` when Redis cannot be reached or does not
/// answer within the timeout; a Redis error reply is a `redis_reply` of kind `error`.
using redis_actor = caf::typed_actor<
    // One command; the reply as Redis sent it.
    caf::replies_to<redis_command>::with<redis_reply>>;

/// Where a Redis server is, parsed from `redis://[[user]:password@]host[:port][/db]`.
struct redis_endpoint {
  std::string host = "127.0.0.1";  ///< name or address
  uint16_t port = 6379;            ///< TCP port
  std::string username;            ///< ACL user (empty: none)
  std::string password;            ///< AUTH password (empty: none)
  int db = 0;                      ///< SELECT index
};

/// Parses a `redis://` URL. Errors: validation.
caf::expected<redis_endpoint> parse_redis_url(std::string_view url);

/// How a pool connects.
struct redis_pool_config {
  std::string redis_url;                                   ///< redis://...
  unsigned size = 2;                                       ///< workers, at least 1
  caf::timespan timeout = std::chrono::milliseconds{500};  ///< connect and per-command timeout

  /// The pool configuration of `s` (REDIS_URL, REDIS_POOL_SIZE, REDIS_TIMEOUT).
  static redis_pool_config from(const storage_settings& s);
};

/// Spawns the router and its workers (detached, linked to the router). Workers connect lazily
/// and reconnect with jittered exponential backoff; this never blocks and succeeds while Redis
/// is down. Errors: validation (bad URL). Stop it with
/// `caf::anon_send_exit(pool, caf::exit_reason::user_shutdown)`.
caf::expected<redis_actor> spawn_redis_pool(caf::actor_system& sys, redis_pool_config cfg);

}  // namespace caa::storage
