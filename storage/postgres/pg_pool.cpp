#include "storage/postgres/pg_pool.hpp"

#include "config/errc.hpp"
#include "config/metrics_catalog.hpp"
#include "storage/bridge.hpp"
#include "storage/postgres/conninfo.hpp"
#include "storage/postgres/pg_worker.hpp"
#include "storage/postgres/statements.hpp"

#include <caf/exit_reason.hpp>
#include <caf/sec.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/system_messages.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include <algorithm>
#include <deque>
#include <functional>
#include <optional>
#include <thread>
#include <type_traits>

namespace caa::storage {

namespace {

using namespace std::chrono_literals;
using detail::pg_worker_actor;
using clock_type = std::chrono::steady_clock;

/// A request waiting for a worker: a point read (`query` set), which may share a pipeline with
/// the point reads queued after it, or anything else (`run`).
struct pending_job {
  clock_type::time_point enqueued;                  ///< for the queue-wait deadline
  std::optional<db_query> query;                    ///< a point read
  caf::typed_response_promise<db_result> query_rp;  ///< its caller
  std::function<void(const pg_worker_actor&)> run;  ///< else: sends the request to a worker
  std::function<void(caf::error)> fail;             ///< answers the caller with an error
};

struct pg_pool_state {
  static inline const char* name = "caa.pg_pool";
  pg_pool_config cfg;
  std::vector<pg_worker_actor> workers;  ///< every live worker
  std::vector<pg_worker_actor> idle;     ///< workers without a request in flight
  std::deque<pending_job> queue;         ///< bounded by cfg.max_queue
  /// The workers running a pipeline of reads, and since when.
  std::vector<std::pair<caf::actor_addr, clock_type::time_point>> reading;
  bool reads_due = false;  ///< a `reads_due` message is on its way
};

/// The pool's own interface: the pool's, plus its timer for held-back reads.
using pg_pool_actor = pg_actor::extend<
    // INTERNAL: look again whether queued reads may start (see `pg_pool_config::slow_read`).
    caf::reacts_to<atom::reads_due>>;

using pool_ptr = pg_pool_actor::stateful_pointer<pg_pool_state>;

/// A single statement on its way to a worker, and its caller.
struct pipelined {
  db_query query;
  caf::typed_response_promise<db_result> rp;
};

void release(pool_ptr self, const pg_worker_actor& w);
caf::error on_worker_error(pool_ptr self, const pg_worker_actor& w, const caf::error& e);

/// Sends `jobs` to `w` as one pipeline (one round trip) and answers each caller with its own
/// statement's outcome.
void send_pipeline(pool_ptr self, const pg_worker_actor& w, std::vector<pipelined> jobs) {
  db_pipeline msg;
  msg.queries.reserve(jobs.size());
  std::vector<caf::typed_response_promise<db_result>> callers;
  callers.reserve(jobs.size());
  for (auto& j : jobs) {
    msg.queries.push_back(std::move(j.query));
    callers.push_back(std::move(j.rp));
  }
  metrics::service().db_pipeline_reads.observe(static_cast<double>(msg.queries.size()));
  self->state.reading.emplace_back(w.address(), clock_type::now());
  self->request(w, pg_worker_timeout(self->state.cfg), std::move(msg))
      .then(
          [self, callers, w](db_outcomes& o) mutable {
            cancel_answered_timeout(self);
            for (std::size_t i = 0; i < callers.size(); ++i) {
              if (i < o.errors.size() && o.errors[i])
                callers[i].deliver(std::move(o.errors[i]));
              else if (i < o.results.size())
                callers[i].deliver(std::move(o.results[i]));
              else
                callers[i].deliver(make_error(errc::internal, "postgres worker: no outcome"));
            }
            release(self, w);
          },
          [self, callers, w](caf::error& e) mutable {
            cancel_answered_timeout(self);
            auto err = on_worker_error(self, w, e);
            for (auto& rp : callers) rp.deliver(err);
          });
}

/// True when `job` waited longer than the queue allows (and answers it then).
bool expired(pool_ptr self, pending_job& job) {
  if (clock_type::now() - job.enqueued <= self->state.cfg.db_timeout) return false;
  job.fail(make_error(errc::unavailable, "postgres pool: queue wait exceeded"));
  return true;
}

/// Read pipelines in flight that are not slow: each holds back the queued reads a little, so
/// that they gather into fewer, longer pipelines.
std::size_t fresh_read_pipelines(pool_ptr self) {
  auto since = clock_type::now() - self->state.cfg.slow_read;
  auto& r = self->state.reading;
  return static_cast<std::size_t>(
      std::count_if(r.begin(), r.end(), [&](const auto& x) { return x.second > since; }));
}

/// True when another pipeline of reads may start now.
bool may_start_reads(pool_ptr self) {
  return fresh_read_pipelines(self) < self->state.cfg.read_pipelines;
}

/// Takes the reads at the head of the queue that have not waited too long (at most
/// `pg_pipeline_max`) and sends them to `w` as one pipeline.
void send_queued_reads(pool_ptr self, const pg_worker_actor& w) {
  auto& st = self->state;
  std::vector<pipelined> jobs;
  while (!st.queue.empty() && st.queue.front().query && jobs.size() < pg_pipeline_max) {
    auto job = std::move(st.queue.front());
    st.queue.pop_front();
    if (!expired(self, job)) jobs.push_back(pipelined{std::move(*job.query), job.query_rp});
  }
  if (jobs.empty())
    release(self, w);
  else
    send_pipeline(self, w, std::move(jobs));
}

/// Starts pipelines of the queued reads on idle workers while `may_start_reads`; when reads
/// stay queued beside an idle worker, looks again once the pipelines in flight turn slow.
void start_reads(pool_ptr self) {
  auto& st = self->state;
  while (!st.idle.empty() && !st.queue.empty() && st.queue.front().query && may_start_reads(self)) {
    auto w = st.idle.front();
    st.idle.erase(st.idle.begin());
    send_queued_reads(self, w);
  }
  if (!st.idle.empty() && !st.queue.empty() && st.queue.front().query && !st.reads_due) {
    st.reads_due = true;
    self->delayed_send(self, st.cfg.slow_read, atom::reads_due_v);
  }
}

/// `w` is free: gives it the oldest jobs that have not waited too long (the reads at the head of
/// the queue together, when another read pipeline may start; else the first job that is not a
/// read), or marks it idle.
void release(pool_ptr self, const pg_worker_actor& w) {
  auto& st = self->state;
  auto addr = w.address();
  std::erase_if(st.reading, [&](const auto& x) { return x.first == addr; });
  while (!st.queue.empty() && expired(self, st.queue.front())) st.queue.pop_front();
  if (!st.queue.empty() && st.queue.front().query && may_start_reads(self)) {
    send_queued_reads(self, w);
    return;
  }
  auto other =
      std::find_if(st.queue.begin(), st.queue.end(), [](const pending_job& j) { return !j.query; });
  if (other == st.queue.end()) {
    st.idle.push_back(w);
    start_reads(self);
    return;
  }
  auto job = std::move(*other);
  st.queue.erase(other);
  if (!expired(self, job)) {
    job.run(w);
    return;
  }
  release(self, w);
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
  std::erase_if(st.reading, [&](const auto& x) { return x.first == addr; });
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

/// An idle worker, taken off the idle list; none when every worker is busy.
std::optional<pg_worker_actor> take_idle(pool_ptr self) {
  auto& idle = self->state.idle;
  if (idle.empty()) return std::nullopt;
  auto w = idle.front();  // FIFO: spreads work over every connection
  idle.erase(idle.begin());
  return w;
}

/// True when the queue is full and no worker is idle: the caller gets unavailable.
bool full(pool_ptr self) {
  auto& st = self->state;
  return st.idle.empty() && st.queue.size() >= st.cfg.max_queue;
}

template <class Reply, class Msg>
caf::result<Reply> submit(pool_ptr self, Msg msg);

/// A point read joins the queue and leaves it in the next pipeline of reads; any other statement
/// goes alone, as other requests do: writes keep a connection each (their commits share
/// PostgreSQL's group commit instead of waiting for each other's fsync in one pipeline), and a
/// long read would hold up every read behind it in its pipeline.
caf::result<db_result> submit_query(pool_ptr self, db_query q) {
  const auto* def = find_statement(q.statement_name);
  if (def == nullptr || !def->point_read) return submit<db_result>(self, std::move(q));
  // Bounded even beside idle workers: point reads may wait for a pipeline while some are idle.
  if (self->state.queue.size() >= self->state.cfg.max_queue)
    return make_error(errc::unavailable, "postgres pool queue full");
  auto rp = self->make_response_promise<db_result>();
  auto fail = [rp](caf::error e) mutable { rp.deliver(std::move(e)); };
  self->state.queue.push_back(pending_job{clock_type::now(), std::move(q), rp, {}, fail});
  start_reads(self);
  return rp;
}

/// Sends `msg` to an idle worker now, or queues it; answers through a promise.
template <class Reply, class Msg>
caf::result<Reply> submit(pool_ptr self, Msg msg) {
  if (full(self)) {
    if constexpr (std::is_same_v<Reply, bool>)
      return false;
    else
      return make_error(errc::unavailable, "postgres pool queue full");
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
  if (auto w = take_idle(self))
    run(*w);
  else
    self->state.queue.push_back(
        pending_job{clock_type::now(), std::nullopt, {}, std::move(run), std::move(fail)});
  return rp;
}

pg_pool_actor::behavior_type pg_pool(pool_ptr self, pg_pool_config cfg) {
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
      [self](db_query& q) -> caf::result<db_result> { return submit_query(self, std::move(q)); },
      [self](db_batch& b) -> caf::result<std::vector<db_result>> {
        return submit<std::vector<db_result>>(self, std::move(b));
      },
      [self](atom::ping) -> caf::result<bool> { return submit<bool>(self, atom::ping_v); },
      [self](atom::reads_due) {
        self->state.reads_due = false;
        start_reads(self);
      },
  };
}

}  // namespace

pg_pool_config pg_pool_config::from(const storage_settings& s) {
  pg_pool_config cfg;
  cfg.database_url = s.database_url;
  cfg.size = std::max(1u, s.db_pool_size);
  cfg.max_queue = cfg.size * pg_queue_per_connection;
  cfg.db_timeout = std::chrono::duration_cast<caf::timespan>(s.db_timeout);
  cfg.read_pipelines = std::clamp(std::thread::hardware_concurrency() / 2, 1u, cfg.size);
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
