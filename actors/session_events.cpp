#include "actors/session_impl.hpp"

#include "config/errc.hpp"
#include "config/logging.hpp"
#include "config/metrics_catalog.hpp"

#include <caf/all.hpp>

namespace caa::detail {

namespace {

using namespace std::chrono_literals;

std::size_t bytes_of(const kept_event& e) {
  return e.name.size() + e.data.size();
}

/// Drops the oldest committed events while the window is over its bounds (the newest stays).
void trim_window(session_state& st) {
  auto& w = st.window;
  while (w.size() > 1 && w.front().seq <= st.committed_seq &&
         (w.size() > replay_window || st.window_bytes > replay_window_bytes)) {
    st.window_bytes -= bytes_of(w.front());
    w.pop_front();
  }
}

/// Asks `sub`'s sink to report room with a `sink_ready` message (once per wait).
void wait_for_room(session_self self, subscriber& sub) {
  if (sub.waiting)
    return;
  sub.waiting = true;
  sub.waiting_since = self->clock().now();
  self->delayed_send(self, self->state.deps.stall_timeout, atom::timeout_v, int32_t{sink_stall},
                     sub.id);
  auto weak = caf::actor_cast<caf::weak_actor_ptr>(self->ctrl());
  sub.sink->when_writable([weak, id = sub.id] {
    if (auto strong = weak.lock())
      caf::anon_send(caf::actor_cast<session_actor>(strong), atom::timeout_v,
                     int32_t{sink_ready}, id);
  });
}

/// Writes the next queued row update (one in flight, in order: two writes on two pool
/// connections could commit in either order).
void write_next_row(session_self self) {
  auto& st = self->state;
  if (st.row_write_in_flight || st.row_writes.empty())
    return;
  st.row_write_in_flight = true;
  auto w = std::move(st.row_writes.front());
  st.row_writes.pop_front();
  auto done = [self] {
    self->state.row_write_in_flight = false;
    write_next_row(self);
    arm_retirement(self);
  };
  auto failed = [self, done](caf::error& e) {
    log::warn("session row update failed",
              {.component = "session", .session_id = self->state.who.id,
               .error_code = to_string(errc_of(e))});
    done();
  };
  if (auto* q = std::get_if<storage::db_query>(&w))
    self->request(st.deps.pg, st.deps.db_timeout, std::move(*q))
      .then([done](storage::db_result&) { done(); }, failed);
  else
    self->request(st.deps.pg, st.deps.db_timeout, std::get<storage::db_batch>(std::move(w)))
      .then([done](std::vector<storage::db_result>&) { done(); }, failed);
}

/// Delivers what `sub` misses from the window while it has room. False: drop it (gone, or its
/// next event left the window).
bool feed(session_self self, subscriber& sub) {
  auto& st = self->state;
  if (!sub.sink->open())
    return false;
  if (sub.after >= st.committed_seq || sub.waiting)
    return true;
  uint64_t first = window_start(st);
  if (sub.after + 1 < first) {
    log::info("subscriber fell behind the replay window; it replays from storage",
              {.component = "session", .session_id = st.who.id});
    metrics::event_delivered(false);
    sub.sink->lagged();
    return false;
  }
  // The window is ordered by seq: start right after what this subscriber has.
  for (std::size_t idx = sub.after + 1 - first; idx < st.window.size(); ++idx) {
    auto& e = st.window[idx];
    if (e.seq > st.committed_seq)
      break;
    if (!sub.sink->writable()) {
      wait_for_room(self, sub);
      return sub.sink->open();
    }
    bool ok = sub.sink->deliver(e.seq, e.name, e.data);
    metrics::event_delivered(ok);  // streamed, or a subscriber dropped
    if (!ok)
      return false;
    sub.after = e.seq;
  }
  return true;
}

}  // namespace

void run_db(session_self self, std::variant<storage::db_query, storage::db_batch> w) {
  self->state.row_writes.push_back(std::move(w));
  write_next_row(self);
}

void emit(session_self self, api_event ev) {
  auto& st = self->state;
  kept_event k{++st.last_seq, std::move(ev.name), std::move(ev.data)};
  st.window_bytes += bytes_of(k);
  st.unwritten.push_back(k);
  st.window.push_back(std::move(k));
  trim_window(st);
  flush(self);
}

void flush(session_self self) {
  auto& st = self->state;
  if (st.write_in_flight || st.unwritten.empty())
    return;
  std::vector<storage::session_event> batch;
  batch.reserve(st.unwritten.size());
  for (auto& e : st.unwritten)
    batch.push_back(storage::session_event{st.who.id, e.seq, e.name, e.data});
  auto upto = st.unwritten.back().seq;
  st.writing = std::move(st.unwritten);
  st.unwritten.clear();
  st.write_in_flight = true;
  // Commit before send: subscribers see an event only once PostgreSQL has it, so every event
  // a client received survives a crash.
  self->request(st.deps.writer, st.deps.db_timeout, atom::append_v, std::move(batch))
    .then(
      [=](uint64_t) {
        auto& s = self->state;
        s.write_in_flight = false;
        s.writing.clear();
        s.committed_seq = std::max(s.committed_seq, upto);
        trim_window(s);
        deliver(self);
        flush(self);
      },
      [=](caf::error& err) {
        auto& s = self->state;
        log::warn("event write failed; retrying",
                  {.component = "session", .session_id = s.who.id,
                   .error_code = to_string(errc_of(err))});
        // Put the batch back (writes are idempotent: ON CONFLICT DO NOTHING) and retry soon.
        s.writing.insert(s.writing.end(), std::make_move_iterator(s.unwritten.begin()),
                         std::make_move_iterator(s.unwritten.end()));
        s.unwritten = std::move(s.writing);
        s.writing.clear();
        s.write_in_flight = false;
        self->delayed_send(self, 500ms, atom::timeout_v, int32_t{write_retry}, uint64_t{0});
      });
}

void deliver(session_self self) {
  auto& subs = self->state.subscribers;
  for (auto it = subs.begin(); it != subs.end();) {
    if (feed(self, *it)) {
      ++it;
    } else {
      it->sink->close();
      it = subs.erase(it);
    }
  }
  arm_retirement(self);
}

void add_subscriber(session_self self, event_sink_ptr sink, uint64_t after) {
  auto& st = self->state;
  st.subscribers.push_back({std::move(sink), after, ++st.next_subscriber_id, false, {}});
  deliver(self);
}

void on_sink_stall(session_self self, uint64_t id) {
  auto& st = self->state;
  auto& subs = st.subscribers;
  auto now = self->clock().now();
  for (auto it = subs.begin(); it != subs.end(); ++it) {
    // A timer of an earlier wait of the same subscriber may fire during a later one: only a
    // wait as long as the timeout counts.
    if (it->id != id || !it->waiting || now - it->waiting_since < st.deps.stall_timeout)
      continue;
    log::info("subscriber took nothing within STREAM_STALL_TIMEOUT; cut",
              {.component = "session", .session_id = st.who.id});
    metrics::event_delivered(false);
    it->sink->lagged();
    it->sink->close();
    subs.erase(it);
    arm_retirement(self);
    return;
  }
}

void on_sink_ready(session_self self, uint64_t id) {
  auto& subs = self->state.subscribers;
  for (auto it = subs.begin(); it != subs.end(); ++it) {
    if (it->id != id)
      continue;
    it->waiting = false;
    if (!feed(self, *it)) {
      it->sink->close();
      subs.erase(it);
      arm_retirement(self);
    }
    return;
  }
}

}  // namespace caa::detail
