#include "storage/redis/redis_pool.hpp"

#include "config/errc.hpp"
#include "storage/redis/redis_worker.hpp"

#include <caf/exit_reason.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/system_messages.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <algorithm>
#include <charconv>

namespace caa::storage {

namespace {

struct redis_pool_state {
  static inline const char* name = "caa.redis_pool";
  detail::redis_worker_config worker_cfg;
  std::vector<redis_actor> workers;
  std::size_t next = 0;
};

using pool_ptr = redis_actor::stateful_pointer<redis_pool_state>;

template <class T>
bool parse_number(std::string_view s, T& out) {
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc{} && ptr == s.data() + s.size();
}

/// Decodes %XX escapes (userinfo of a URL); malformed escapes stay as they are.
std::string percent_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    unsigned value = 0;
    if (s[i] == '%' && i + 2 < s.size() &&
        std::from_chars(s.data() + i + 1, s.data() + i + 3, value, 16).ptr == s.data() + i + 3) {
      out += static_cast<char>(value);
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

void add_worker(pool_ptr self) {
  self->state.workers.push_back(detail::spawn_redis_worker(self, self->state.worker_cfg));
}

redis_actor::behavior_type redis_pool(pool_ptr self, detail::redis_worker_config cfg,
                                      unsigned size) {
  self->state.worker_cfg = std::move(cfg);
  self->set_exit_handler([self](caf::exit_msg& msg) {
    auto& ws = self->state.workers;
    auto i = std::find_if(ws.begin(), ws.end(),
                          [&](const redis_actor& w) { return w.address() == msg.source; });
    if (i != ws.end()) {
      ws.erase(i);
      add_worker(self);
    } else if (msg.reason != caf::exit_reason::normal) {
      self->quit(msg.reason);  // linked workers follow (non-normal reason)
    }
  });
  for (unsigned i = 0; i < std::max(1u, size); ++i) add_worker(self);
  return {
      [self](redis_command& cmd) -> caf::result<redis_reply> {
        auto& st = self->state;
        if (st.workers.empty()) return make_error(errc::unavailable, "redis pool has no workers");
        auto& w = st.workers[st.next++ % st.workers.size()];
        return self->delegate(w, std::move(cmd));
      },
  };
}

}  // namespace

caf::expected<redis_endpoint> parse_redis_url(std::string_view url) {
  constexpr std::string_view scheme = "redis://";
  if (!url.starts_with(scheme)) return make_error(errc::validation, "REDIS_URL: expected redis://");
  url.remove_prefix(scheme.size());
  redis_endpoint ep;
  auto slash = url.find('/');
  auto authority = url.substr(0, slash);
  if (slash != std::string_view::npos) {
    auto db = url.substr(slash + 1);
    if (!db.empty() && !parse_number(db, ep.db))
      return make_error(errc::validation, "REDIS_URL: bad database index");
  }
  if (auto at = authority.rfind('@'); at != std::string_view::npos) {
    auto userinfo = authority.substr(0, at);
    authority.remove_prefix(at + 1);
    auto colon = userinfo.find(':');
    ep.username = percent_decode(userinfo.substr(0, colon));
    if (colon != std::string_view::npos) ep.password = percent_decode(userinfo.substr(colon + 1));
  }
  auto host = authority;
  if (auto colon = authority.rfind(':');
      colon != std::string_view::npos && authority.find(']', colon) == std::string_view::npos) {
    host = authority.substr(0, colon);
    if (!parse_number(authority.substr(colon + 1), ep.port) || ep.port == 0)
      return make_error(errc::validation, "REDIS_URL: bad port");
  }
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (!host.empty()) ep.host = std::string{host};
  return ep;
}

redis_pool_config redis_pool_config::from(const storage_settings& s) {
  redis_pool_config cfg;
  cfg.redis_url = s.redis_url;
  cfg.size = std::max(1u, s.redis_pool_size);
  cfg.timeout = std::chrono::duration_cast<caf::timespan>(s.redis_timeout);
  return cfg;
}

caf::expected<redis_actor> spawn_redis_pool(caf::actor_system& sys, redis_pool_config cfg) {
  auto ep = parse_redis_url(cfg.redis_url);
  if (!ep) return ep.error();
  detail::redis_worker_config wcfg{std::move(*ep), cfg.timeout};
  return sys.spawn(redis_pool, std::move(wcfg), cfg.size);
}

}  // namespace caa::storage
