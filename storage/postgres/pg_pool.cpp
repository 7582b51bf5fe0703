#include "storage/postgres/pg_pool.hpp"

#include "config/errc.hpp"
#include "storage/bridge.hpp"
#include "storage/postgres/conninfo.hpp"
#include "storage/postgres/pg_worker.hpp"

#include <caf/exit_reason.hpp>
#include <caf/sec.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/system_messages.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <algorithm>
#include <deque>
#include <functional>
#include <type_traits>

namespace caa::storage {

namespace {

using namespace std::chrono_literals;
using detail::pg_worker_actor;
using clock_type = std::chrono::steady_clock;

/// A request waiting for an idle worker.
struct pending_job {
  clock_type::time_point enqueued;                  ///< for the queue-wait deadline
  std::function<void(const pg_worker_actor&)> run;  ///< sends the request to a worker
  std::function<void(caf::error)> fail;             ///< answers the caller with an error
};

struct pg_pool_state {
  static inline const char* name = "caa.pg_pool";
  pg_pool_config cfg;
  std::vector<pg_worker_actor> workers;  ///< every live worker
  std::vector<pg_worker_actor> idle;     ///< workers without a request in flight
  std::deque<pending_job> queue;         ///< bounded by cfg.max_queue
};

using pool_ptr = pg_actor::stateful_pointer<pg_pool_state>;

/// Gives `w` the oldest job that has not waited too long, or marks it idle.
void release(pool_ptr self, const pg_worker_actor& w) {
  auto& st = self->state;
  while (!st.queue.empty()) {
    auto job = std::move(st.queue.front());
    st.queue.pop_front();
    if (clock_type::now() - job.enqueued > st.cfg.db_timeout) {
      job.fail(make_error(errc::unavailable, "postgres pool: queue wait exceeded"));
      continue;
    }
    job.run(w);
    return;
  }
  st.idle.push_back(w);
}

void add_worker(pool_ptr self) {
  auto& cfg = self->state.cfg;
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(cfg.db_timeout);
  detail::pg_worker_config wcfg{make_conninfo(cfg.database_url, cfg.connect_timeout, ms + 1s), ms};
  auto w = detail::spawn_pg_worker(self, std::move(wcfg));
  self->state.workers.push_back(w);
  release(self, w);
}

void forget_worker(pool_ptr self, const caf::actor_addr& addr) {
  auto& st = self->state;
  auto same = [&](const pg_worker_actor& w) { return w.address() == addr; };
  st.workers.erase(std::remove_if(st.workers.begin(), st.workers.end(), same), st.workers.end());
  st.idle.erase(std::remove_if(st.idle.begin(), st.idle.end(), same), st.idle.end());
}

/// A worker that missed its deadline is stuck in a blocking call: retire it (it exits once the
/// call returns) and put a fresh one in its place.
void replace_worker(pool_ptr self, const pg_worker_actor& w) {
  forget_worker(self, w.address());
  self->unlink_from(w);
  self->send_exit(w, caf::exit_reason::kill);
  add_worker(self);
}

/// Decides the worker's fate after an error reply and returns the error for the caller.
caf::error on_worker_error(pool_ptr self, const pg_worker_actor& w, const caf::error& e) {
  if (e.category() == errc_category) {  // the worker answered: it is healthy
    release(self, w);
    return e;
  }
  if (e == caf::sec::request_timeout) {
    replace_worker(self, w);
    return make_error(errc::unavailable, "postgres worker deadline exceeded");
  }
  // The worker died; the exit handler replaces it.
  return make_error(errc::unavailable, "postgres worker down");
}

/// Sends `msg` to an idle worker now, or queues it; answers through a promise.
template <class Reply, class Msg>
caf::result<Reply> submit(pool_ptr self, Msg msg) {
  auto& st = self->state;
  if (st.idle.empty() && st.queue.size() >= st.cfg.max_queue) {
    auto err = make_error(errc::unavailable, "postgres pool queue full");
    if constexpr (std::is_same_v<Reply, bool>)
      return false;
    else
      return err;
  }
  auto rp = self->template make_response_promise<Reply>();
  auto fail = [rp](caf::error e) mutable {
    if constexpr (std::is_same_v<Reply, bool>)
      rp.deliver(false);
    else
      rp.deliver(std::move(e));
  };
  auto run = [self, msg, rp, fail](const pg_worker_actor& w) mutable {
    self->request(w, pg_worker_timeout(self->state.cfg), msg)
        .then(
            [self, rp, w](Reply& r) mutable {
              cancel_answered_timeout(self);
              rp.deliver(std::move(r));
              release(self, w);
            },
            [self, fail, w](caf::error& e) mutable {
              cancel_answered_timeout(self);
              fail(on_worker_error(self, w, e));
            });
  };
  if (!st.idle.empty()) {
    auto w = st.idle.front();  // FIFO: spreads work over every connection
    st.idle.erase(st.idle.begin());
    run(w);
  } else {
    st.queue.push_back(pending_job{clock_type::now(), std::move(run), std::move(fail)});
  }
  return rp;
}

pg_actor::behavior_type pg_pool(pool_ptr self, pg_pool_config cfg) {
  self->state.cfg = std::move(cfg);
  self->set_exit_handler([self](caf::exit_msg& msg) {
    auto& ws = self->state.workers;
    auto is_worker = std::any_of(
        ws.begin(), ws.end(), [&](const pg_worker_actor& w) { return w.address() == msg.source; });
    if (is_worker) {
      forget_worker(self, msg.source);
      add_worker(self);
    } else if (msg.reason != caf::exit_reason::normal) {
      self->quit(msg.reason);  // linked workers follow (non-normal reason)
    }
  });
  for (unsigned i = 0; i < std::max(1u, self->state.cfg.size); ++i) add_worker(self);
  return {
      [self](db_query& q) -> caf::result<db_result> {
        return submit<db_result>(self, std::move(q));
      },
      [self](db_batch& b) -> caf::result<std::vector<db_result>> {
        return submit<std::vector<db_result>>(self, std::move(b));
      },
      [self](atom::ping) -> caf::result<bool> { return submit<bool>(self, atom::ping_v); },
  };
}

}  // namespace

pg_pool_config pg_pool_config::from(const storage_settings& s) {
  pg_pool_config cfg;
  cfg.database_url = s.database_url;
  cfg.size = std::max(1u, s.db_pool_size);
  cfg.max_queue = cfg.size * pg_queue_per_connection;
  cfg.db_timeout = std::chrono::duration_cast<caf::timespan>(s.db_timeout);
  return cfg;
}

caf::timespan pg_worker_timeout(const pg_pool_config& cfg) noexcept {
  return cfg.db_timeout + cfg.connect_timeout + 500ms;
}

caf::timespan pg_request_timeout(const pg_pool_config& cfg) noexcept {
  return cfg.db_timeout + pg_worker_timeout(cfg) + 500ms;
}

pg_actor spawn_pg_pool(caf::actor_system& sys, pg_pool_config cfg) {
  return sys.spawn(pg_pool, std::move(cfg));
}

}  // namespace caa::storage
