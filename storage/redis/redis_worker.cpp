#include "storage/redis/redis_worker.hpp"

#include "config/errc.hpp"
#include "config/logging.hpp"
#include "storage/backoff.hpp"

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <hiredis/hiredis.h>

#include <sys/time.h>
#include <memory>

namespace caa::storage::detail {

namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

struct context_deleter {
  void operator()(redisContext* c) const noexcept { redisFree(c); }
};

struct reply_deleter {
  void operator()(redisReply* r) const noexcept { freeReplyObject(r); }
};

using context_ptr = std::unique_ptr<redisContext, context_deleter>;
using reply_ptr = std::unique_ptr<redisReply, reply_deleter>;

struct redis_worker_state {
  static inline const char* name = "caa.redis_worker";
  redis_worker_config cfg;
  context_ptr ctx;
  backoff retry{100ms, 2s};
  clock_type::time_point next_attempt{};
};

using worker_ptr = redis_actor::stateful_pointer<redis_worker_state>;

timeval to_timeval(caf::timespan t) {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(t).count();
  return timeval{static_cast<time_t>(us / 1000000), static_cast<suseconds_t>(us % 1000000)};
}

reply_ptr command(redisContext* c, const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (const auto& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  return reply_ptr{static_cast<redisReply*>(
      redisCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lens.data()))};
}

/// Runs AUTH and SELECT as configured; an error string when one fails.
std::string handshake(redisContext* c, const redis_endpoint& ep) {
  std::vector<std::vector<std::string>> cmds;
  if (!ep.password.empty()) {
    if (ep.username.empty())
      cmds.push_back({"AUTH", ep.password});
    else
      cmds.push_back({"AUTH", ep.username, ep.password});
  }
  if (ep.db != 0) cmds.push_back({"SELECT", std::to_string(ep.db)});
  for (const auto& cmd : cmds) {
    auto r = command(c, cmd);
    if (!r) return c->errstr;
    if (r->type == REDIS_REPLY_ERROR) return cmd[0] + " refused";
  }
  return {};
}

bool try_connect(worker_ptr self) {
  auto& st = self->state;
  auto tv = to_timeval(st.cfg.timeout);
  context_ptr c{redisConnectWithTimeout(st.cfg.endpoint.host.c_str(), st.cfg.endpoint.port, tv)};
  std::string why;
  if (!c)
    why = "out of memory";
  else if (c->err != 0)
    why = c->errstr;
  else if (redisSetTimeout(c.get(), tv) != REDIS_OK)
    why = "cannot set timeout";
  else
    why = handshake(c.get(), st.cfg.endpoint);
  if (!why.empty()) {
    st.next_attempt = clock_type::now() + st.retry.next();
    log::warn_once("redis-unavailable", "redis: cannot connect",
                   {.component = "redis", .detail = why, .attempt = st.retry.attempts()});
    return false;
  }
  st.ctx = std::move(c);  // the backoff resets only after a command succeeded
  log::rearm_once("redis-unavailable");
  return true;
}

bool ensure_connected(worker_ptr self) {
  auto& st = self->state;
  if (st.ctx) return true;
  if (clock_type::now() < st.next_attempt) return false;
  return try_connect(self);
}

redis_reply convert(const redisReply& r) {
  redis_reply out;
  switch (r.type) {
    case REDIS_REPLY_STATUS:
      out.kind = redis_reply_kind::status;
      break;
    case REDIS_REPLY_ERROR:
      out.kind = redis_reply_kind::error;
      break;
    case REDIS_REPLY_STRING:
      out.kind = redis_reply_kind::string;
      break;
    case REDIS_REPLY_INTEGER:
      out.kind = redis_reply_kind::integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.kind = redis_reply_kind::array;
      break;
    default:
      out.kind = redis_reply_kind::nil;
      break;
  }
  if (r.str != nullptr) out.str.assign(r.str, r.len);
  out.integer = r.integer;
  for (size_t i = 0; i < r.elements; ++i) {
    const auto* e = r.element[i];
    if (e->type == REDIS_REPLY_INTEGER)
      out.elements.emplace_back(std::to_string(e->integer));
    else if (e->str != nullptr)
      out.elements.emplace_back(e->str, e->len);
    else
      out.elements.emplace_back();
  }
  return out;
}

caf::result<redis_reply> run(worker_ptr self, const redis_command& cmd) {
  if (cmd.args.empty()) return make_error(errc::internal, "redis: empty command");
  if (!ensure_connected(self)) return make_error(errc::unavailable, "redis not connected");
  auto& st = self->state;
  auto r = command(st.ctx.get(), cmd.args);
  if (!r) {
    // I/O error or timeout: the connection is in an unknown state. Back off before the next
    // attempt, so a hung server costs one timeout per backoff step, not one per request.
    std::string why = st.ctx->errstr;
    st.ctx.reset();
    st.next_attempt = clock_type::now() + st.retry.next();
    return make_error(errc::unavailable, "redis: " + why);
  }
  st.retry.reset();
  return convert(*r);
}

redis_actor::behavior_type redis_worker(worker_ptr self, redis_worker_config cfg) {
  self->state.cfg = std::move(cfg);
  return {
      [self](redis_command& cmd) -> caf::result<redis_reply> { return run(self, cmd); },
  };
}

}  // namespace

redis_actor spawn_redis_worker(caf::local_actor* parent, redis_worker_config cfg) {
  return parent->spawn<caf::detached + caf::linked>(redis_worker, std::move(cfg));
}

}  // namespace caa::storage::detail
