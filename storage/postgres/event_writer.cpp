#include "storage/postgres/event_writer.hpp"

#include "config/errc.hpp"
#include "config/metrics_catalog.hpp"
#include "storage/bridge.hpp"
#include "storage/postgres/event_queries.hpp"

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include <deque>
#include <unordered_map>

namespace caa::storage {

namespace {

/// One `append` request waiting for its batch to commit.
struct pending_append {
  std::vector<session_event> events;                ///< one session's, ascending; empty: a barrier
  caf::typed_response_promise<uint64_t> rp;         ///< answered once
  std::size_t bytes = 0;                            ///< types and payloads
  bool solo = false;                                ///< write alone (isolating a failed batch)
  std::chrono::steady_clock::time_point queued_at;  ///< arrival (the persistence lag starts)
  std::shared_ptr<std::size_t> lanes_left;          ///< a barrier: lanes that have not reached it
};

/// One lane: its sessions' requests, one batch in flight.
struct lane {
  std::deque<pending_append> queue;       ///< not yet written, in arrival order
  std::vector<pending_append> in_flight;  ///< the batch being written
};

struct event_writer_state {
  static inline const char* name = "caa.event_writer";
  // Not an aggregate: CAF would otherwise build the state from the actor pointer (C++20).
  event_writer_state() = default;
  pg_actor pg;
  event_writer_config cfg;
  std::vector<lane> lanes;       ///< a session's requests always take the same lane
  std::size_t queued_bytes = 0;  ///< bytes in the lanes' queues
  event_writer_stats stats;
};

using writer_ptr = event_writer_actor::stateful_pointer<event_writer_state>;

void write_next(writer_ptr self, std::size_t li);

/// The lane of a session.
std::size_t lane_of(const event_writer_state& st, const std::string& session_id) {
  return std::hash<std::string>{}(session_id) % st.lanes.size();
}

/// A barrier reached one lane; answered when it reached them all.
void reach_barrier(pending_append& p) {
  if (--*p.lanes_left == 0) p.rp.deliver(uint64_t{0});
}

/// Why `events` cannot be a request: not one session, not ascending, or malformed.
caf::error check_request(const std::vector<session_event>& events) {
  for (std::size_t i = 0; i < events.size(); ++i) {
    const auto& e = events[i];
    if (e.session_id != events[0].session_id)
      return make_error(errc::validation, "append: events of several sessions");
    if (i > 0 && e.seq <= events[i - 1].seq)
      return make_error(errc::validation, "append: seq not ascending");
    if (auto err = check_event(e)) return err;
  }
  return caf::none;
}

std::size_t bytes_of(const std::vector<session_event>& events) {
  std::size_t n = 0;
  for (const auto& e : events) n += e.type.size() + e.payload_json.size();
  return n;
}

/// Answers `p` with `err` and counts the failure (a barrier is only reached).
void fail(writer_ptr self, pending_append& p, const caf::error& err) {
  if (p.events.empty()) {
    reach_barrier(p);
    return;
  }
  ++self->state.stats.failures;
  metrics::service().event_write_failures.inc();
  p.rp.deliver(err);
}

/// Answers `p` from the statuses of the batch that held it.
void answer(writer_ptr self, pending_append& p,
            const std::unordered_map<std::string, append_status>& by_session) {
  auto& stats = self->state.stats;
  if (p.events.empty()) {
    reach_barrier(p);
    return;
  }
  auto i = by_session.find(p.events.front().session_id);
  if (i == by_session.end()) {
    fail(self, p, make_error(errc::session_not_found, "append: no such session"));
  } else if (i->second.fenced) {
    fail(self, p, make_error(errc::fenced, "append: the session is at another epoch"));
  } else if (!i->second.written) {
    fail(self, p,
         make_error(errc::conflict,
                    "append: hole; continue at seq " + std::to_string(i->second.last_seq + 1)));
  } else {
    ++stats.requests;
    stats.events += p.events.size();
    metrics::service().events_persisted.inc(p.events.size());
    p.rp.deliver(p.events.back().seq);
  }
}

/// Records the size of a committed batch and the lag of its oldest event.
void record_batch(const std::vector<pending_append>& batch) {
  std::size_t events = 0;
  auto oldest = std::chrono::steady_clock::time_point::max();
  for (const auto& p : batch) {
    events += p.events.size();
    if (!p.events.empty()) oldest = std::min(oldest, p.queued_at);
  }
  if (events == 0) return;
  auto& m = metrics::service();
  m.event_batch_events.observe(static_cast<double>(events));
  m.event_persist_lag_seconds.observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - oldest).count());
}

void on_written(writer_ptr self, std::size_t li, const db_result& r) {
  auto& st = self->state;
  auto batch = std::move(st.lanes[li].in_flight);
  st.lanes[li].in_flight.clear();
  auto statuses = parse_append_events(r);
  if (!statuses) {
    for (auto& p : batch) fail(self, p, statuses.error());
  } else {
    ++st.stats.batches;
    record_batch(batch);
    std::unordered_map<std::string, append_status> by_session;
    for (auto& s : *statuses) by_session.emplace(s.session_id, std::move(s));
    for (auto& p : batch) answer(self, p, by_session);
  }
  write_next(self, li);
}

bool transient(const caf::error& e) {
  auto code = errc_of(e);
  return code == errc::unavailable || code == errc::timeout;
}

/// A failed batch: a dependency problem fails every request; anything else (one bad request
/// poisoning the statement) puts the requests back to be written one by one, so only the bad
/// one fails.
void on_failed(writer_ptr self, std::size_t li, caf::error err) {
  auto& st = self->state;
  auto& ln = st.lanes[li];
  if (err.category() != errc_category)
    err = make_error(errc::unavailable, "event write failed: " + caf::to_string(err));
  auto batch = std::move(ln.in_flight);
  ln.in_flight.clear();
  if (batch.size() > 1 && !transient(err)) {
    for (auto i = batch.rbegin(); i != batch.rend(); ++i) {
      i->solo = true;
      st.queued_bytes += i->bytes;
      ln.queue.push_front(std::move(*i));
    }
  } else {
    for (auto& p : batch) fail(self, p, err);
  }
  write_next(self, li);
}

/// Moves the next batch of lane `li` from its queue to `in_flight`; returns its statement.
db_query take_batch(writer_ptr self, std::size_t li) {
  auto& st = self->state;
  auto& ln = st.lanes[li];
  append_events_builder b;
  while (!ln.queue.empty()) {
    auto& p = ln.queue.front();
    bool first = ln.in_flight.empty();
    if (!first && (p.solo || ln.in_flight.front().solo)) break;
    if (!first && (b.size() + p.events.size() > st.cfg.max_batch_events ||
                   b.bytes() + p.bytes > st.cfg.max_batch_bytes))
      break;
    for (const auto& e : p.events) static_cast<void>(b.add(e));  // checked on arrival
    st.queued_bytes -= p.bytes;
    ln.in_flight.push_back(std::move(p));
    ln.queue.pop_front();
  }
  return b.size() == 0 ? db_query{} : std::move(b).finish();
}

/// Starts the next write of lane `li` unless one is in flight; batches of barriers only are
/// settled at once.
void write_next(writer_ptr self, std::size_t li) {
  auto& st = self->state;
  auto& ln = st.lanes[li];
  while (ln.in_flight.empty() && !ln.queue.empty()) {
    auto q = take_batch(self, li);
    if (q.statement_name.empty()) {  // barriers only
      for (auto& p : ln.in_flight) reach_barrier(p);
      ln.in_flight.clear();
      continue;
    }
    self->request(st.pg, st.cfg.timeout, std::move(q))
        .then(
            [self, li](db_result& r) {
              cancel_answered_timeout(self);
              on_written(self, li, r);
            },
            [self, li](caf::error& e) {
              cancel_answered_timeout(self);
              on_failed(self, li, std::move(e));
            });
  }
}

caf::result<uint64_t> enqueue(writer_ptr self, std::vector<session_event>& events) {
  auto& st = self->state;
  if (auto err = check_request(events)) {
    ++st.stats.failures;
    return err;
  }
  auto rp = self->make_response_promise<uint64_t>();
  auto now = std::chrono::steady_clock::now();
  if (events.empty()) {  // a barrier: behind everything queued in every lane
    auto left = std::make_shared<std::size_t>(st.lanes.size());
    for (std::size_t li = 0; li < st.lanes.size(); ++li) {
      st.lanes[li].queue.push_back(pending_append{{}, rp, 0, false, now, left});
      write_next(self, li);
    }
    return rp;
  }
  auto bytes = bytes_of(events);
  if (st.queued_bytes + bytes > st.cfg.max_queued_bytes && st.queued_bytes > 0) {
    ++st.stats.failures;
    return make_error(errc::unavailable, "event writer queue full");
  }
  auto li = lane_of(st, events.front().session_id);
  st.queued_bytes += bytes;
  st.lanes[li].queue.push_back(pending_append{std::move(events), rp, bytes, false, now, nullptr});
  write_next(self, li);
  return rp;
}

event_writer_actor::behavior_type event_writer(writer_ptr self, pg_actor pg,
                                               event_writer_config cfg) {
  self->state.pg = std::move(pg);
  self->state.cfg = cfg;
  self->state.lanes.resize(std::max<std::size_t>(1, cfg.lanes));
  return {
      [self](atom::append, std::vector<session_event>& events) -> caf::result<uint64_t> {
        return enqueue(self, events);
      },
      [self](caf::get_atom) -> event_writer_stats { return self->state.stats; },
  };
}

}  // namespace

event_writer_actor spawn_event_writer(caf::actor_system& sys, pg_actor pg,
                                      event_writer_config cfg) {
  return sys.spawn(event_writer, std::move(pg), cfg);
}

}  // namespace caa::storage
