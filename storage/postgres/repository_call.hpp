#pragma once

// One request of a repository to the PostgreSQL pool, shared by the key and session
// repositories: the message (or the error that prevented building it) goes to the pool, the
// reply is parsed, and exactly one of the two callbacks is called. Internal to storage/postgres.

#include "config/errc.hpp"
#include "storage/bridge.hpp"
#include "storage/postgres/pg_pool.hpp"

#include <caf/actor_system.hpp>
#include <caf/error.hpp>
#include <caf/expected.hpp>

#include <functional>
#include <utility>

namespace caa::storage::detail {

/// Our errors pass through; CAF's (request timeout, pool down) mean PostgreSQL is unavailable.
inline caf::error normalize(caf::error e) {
  if (e.category() == errc_category) return e;
  return make_error(errc::unavailable, "postgres request failed: " + caf::to_string(e));
}

/// Sends `msg` (or fails with its error) and hands `parse(reply)` to `ok`, any error to `fail`.
template <class T, class Reply, class Msg, class Parse>
void run(caf::actor_system& sys, const pg_actor& pg, caf::timespan timeout, caf::expected<Msg> msg,
         Parse parse, std::function<void(T)> ok, std::function<void(caf::error)> fail) {
  if (!msg) {
    fail(msg.error());
    return;
  }
  std::function<void(caf::error)> on_error{[fail](caf::error e) { fail(normalize(std::move(e))); }};
  std::function<void(Reply)> on_reply{
      [parse = std::move(parse), ok = std::move(ok), fail = std::move(fail)](Reply r) {
        auto v = parse(r);
        if (v)
          ok(std::move(*v));
        else
          fail(std::move(v.error()));
      }};
  async_request<Reply>(sys, pg, timeout, std::move(on_reply), std::move(on_error), std::move(*msg));
}

}  // namespace caa::storage::detail
