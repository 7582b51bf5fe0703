// The actor glue of the session's events (session_event_log.hpp): writing batches through the
// event writer, delivering stored events to subscribers with flow control, and the session's
// row writes (session_row_writer.hpp).

#include "actors/session_impl.hpp"

#include "config/errc.hpp"
#include "config/logging.hpp"
#include "config/metrics_catalog.hpp"
#include "storage/bridge.hpp"

#include <caf/all.hpp>

namespace caa::detail {

namespace {

using namespace std::chrono_literals;

/// Asks `sub`'s sink to report room with a `sink_ready` message (once per wait).
void wait_for_room(session_self self, subscriber& sub) {
  if (sub.waiting) return;
  sub.waiting = true;
  sub.waiting_since = self->clock().now();
  self->delayed_send(self, self->state.deps.stall_timeout, atom::sink_stall_v, sub.id);
  auto weak = caf::actor_cast<caf::weak_actor_ptr>(self->ctrl());
  sub.sink->when_writable([weak, id = sub.id] {
    if (auto strong = weak.lock())
      caf::anon_send(caf::actor_cast<session_actor>(strong), atom::sink_ready_v, id);
  });
}

/// Writes the next queued row update (one in flight, in order: two writes on two pool
/// connections could commit in either order).
void write_next_row(session_self self) {
  auto& st = self->state;
  if (st.rows.held() && !st.rows.in_flight() && st.after_row_write) {
    std::exchange(st.after_row_write, {})();
    return;
  }
  auto w = st.rows.next();
  if (!w) {
    if (st.rows.quiet() && st.when_rows_quiet) std::exchange(st.when_rows_quiet, {})();
    return;
  }
  request_write(self, std::move(*w), [self](const caf::error& e) {
    if (e)
      log::warn("session row update failed", {.component = "session",
                                              .session_id = self->state.who.id,
                                              .error_code = to_string(errc_of(e))});
    self->state.rows.done();
    write_next_row(self);
    arm_retirement(self);
  });
}

/// Closes `sub`'s sink; false (drop it), for `feed`.
bool close_and_drop(subscriber& sub) {
  sub.sink->close();
  return false;
}

/// Delivers what `sub` misses from the window while it has room. False: drop it. Its sink is
/// then closed (gone, or it refused an event), or was told that its next event left the window
/// (`lagged`), which ends the subscription on the sink's side: an SSE stream goes on from
/// storage, so the session must not close it.
bool feed(session_self self, subscriber& sub) {
  auto& ev = self->state.events;
  if (!sub.sink->open()) return close_and_drop(sub);
  if (sub.after >= ev.visible_seq() || sub.waiting) return true;
  if (ev.behind_window(sub.after)) {
    log::info("subscriber fell behind the replay window; it replays from storage",
              {.component = "session", .session_id = self->state.who.id});
    metrics::event_delivered(false);
    sub.sink->lagged();
    return false;
  }
  // The events of this call go to the subscriber's connection as one write.
  struct corked {
    event_sink& sink;
    explicit corked(event_sink& s) : sink(s) { sink.cork(); }
    ~corked() { sink.uncork(); }
    corked(const corked&) = delete;
    corked& operator=(const corked&) = delete;
  } batch{*sub.sink};
  while (auto* e = ev.visible_after(sub.after)) {
    if (!sub.sink->writable()) {
      wait_for_room(self, sub);
      return sub.sink->open() || close_and_drop(sub);
    }
    bool ok = sub.sink->deliver(e->seq, e->name, e->data);
    metrics::event_delivered(ok);  // streamed, or a subscriber dropped
    if (!ok) return close_and_drop(sub);
    sub.after = e->seq;
  }
  return true;
}

/// The row changes (or will): a kept read of it is stale.
void row_changed(session_state& st) {
  ++st.row_changes;
  st.row_read.reset();
}

}  // namespace

void request_write(session_self self, row_write w,
                   const std::function<void(const caf::error&)>& done) {
  auto& st = self->state;
  row_changed(st);
  auto failed = [self, done](caf::error& e) {
    cancel_answered_timeout(self);
    // Another node owns the session now: this actor ends instead of writing on.
    if (errc_of(e) == errc::fenced) return fenced(self, e);
    done(e);
  };
  auto fenced_w = fenced_write(st, std::move(w));
  if (auto* q = std::get_if<storage::db_query>(&fenced_w))
    self->request(st.deps.pg, st.deps.db_timeout, std::move(*q))
        .then(
            [self, done](storage::db_result&) {
              cancel_answered_timeout(self);
              done(caf::error{});
            },
            failed);
  else
    self->request(st.deps.pg, st.deps.db_timeout, std::get<storage::db_batch>(std::move(fenced_w)))
        .then(
            [self, done](std::vector<storage::db_result>&) {
              cancel_answered_timeout(self);
              done(caf::error{});
            },
            failed);
}

void run_db(session_self self, row_write w) {
  row_changed(self->state);
  self->state.rows.push(std::move(w));
  write_next_row(self);
}

void write_rows(session_self self) {
  write_next_row(self);
}

void reserve_ahead(session_self self) {
  auto& st = self->state;
  auto mark = st.events.reservation_due();
  if (!mark) return;
  request_write(self, storage::make_reserve_events_query(st.who.tenant_id, st.who.id, *mark),
                [self, seq = *mark](const caf::error& e) {
                  auto& ev = self->state.events;
                  if (e) {
                    log::warn("event id reservation failed; early sends wait for storage",
                              {.component = "session",
                               .session_id = self->state.who.id,
                               .error_code = to_string(errc_of(e))});
                    ev.reservation_failed();
                  } else {
                    ev.reserved(seq);
                    deliver(self);
                    release_mark(self);
                  }
                  arm_retirement(self);
                });
}

// A later actor of the session then continues right after the stored events, without a hole.
void release_mark(session_self self) {
  auto& st = self->state;
  if (st.async_events) return;
  auto mark = st.events.release_due();
  if (!mark) return;
  request_write(self, storage::make_release_events_query(st.who.tenant_id, st.who.id, *mark),
                [self](const caf::error& e) {
                  if (e)
                    log::info("event id mark not lowered; a later actor skips ids",
                              {.component = "session",
                               .session_id = self->state.who.id,
                               .error_code = to_string(errc_of(e))});
                  self->state.events.released();
                  reserve_ahead(self);  // early events of a turn that started meanwhile
                  arm_retirement(self);
                });
}

void emit(session_self self, api_event ev) {
  auto& st = self->state;
  row_changed(st);  // its last_seq and updated_at move with the events
  bool early = st.async_events;
  st.events.append(std::move(ev.name), std::move(ev.data), early);
  if (!early) {
    flush(self);
    return;
  }
  // Sent now (once its id is reserved), stored within the flush interval.
  reserve_ahead(self);
  if (st.holding_delivery)
    st.delivery_held = true;
  else
    deliver(self);
  if (!st.flush_armed && !st.events.write_in_flight()) {
    st.flush_armed = true;
    self->delayed_send(self, st.deps.flush_interval, atom::write_due_v);
  }
}

void on_flush_due(session_self self) {
  self->state.flush_armed = false;
  flush(self);
}

void flush(session_self self) {
  auto& st = self->state;
  auto events = st.events.next_batch();
  if (events.empty()) return;
  std::vector<storage::session_event> batch;
  batch.reserve(events.size());
  for (auto& e : events)
    batch.push_back(storage::session_event{st.who.id, e.seq, e.name, e.data, st.who.epoch});
  // Commit before send (sync): subscribers see an event only once PostgreSQL has it, so every
  // event a client received survives a crash. Early events (async) were sent already.
  self->request(st.deps.writer, st.deps.db_timeout, atom::append_v, std::move(batch))
      .then(
          [=](uint64_t) {
            cancel_answered_timeout(self);
            self->state.events.commit();
            deliver(self);
            flush(self);
            release_mark(self);
          },
          [=](caf::error& err) {
            cancel_answered_timeout(self);
            if (errc_of(err) == errc::fenced) return fenced(self, err);
            log::warn("event write failed; retrying", {.component = "session",
                                                       .session_id = self->state.who.id,
                                                       .error_code = to_string(errc_of(err))});
            // Put the batch back (writes are idempotent: ON CONFLICT DO NOTHING), retry soon.
            self->state.events.put_back();
            self->delayed_send(self, 500ms, atom::write_due_v);
          });
}

void deliver(session_self self) {
  self->state.events.remove_subscribers_if([self](subscriber& sub) { return !feed(self, sub); });
  arm_retirement(self);
}

void add_subscriber(session_self self, event_sink_ptr sink, uint64_t after) {
  self->state.events.subscribe(std::move(sink), after);
  deliver(self);
}

void on_sink_stall(session_self self, uint64_t id) {
  auto& st = self->state;
  auto* sub = st.events.find_subscriber(id);
  // A timer of an earlier wait of the same subscriber may fire during a later one: only a
  // wait as long as the timeout counts.
  if (sub == nullptr || !sub->waiting ||
      self->clock().now() - sub->waiting_since < st.deps.stall_timeout)
    return;
  log::info("subscriber took nothing within STREAM_STALL_TIMEOUT; cut",
            {.component = "session", .session_id = st.who.id});
  metrics::event_delivered(false);
  sub->sink->stalled();
  st.events.remove_subscriber(id);
  arm_retirement(self);
}

void on_sink_ready(session_self self, uint64_t id) {
  auto& st = self->state;
  auto* sub = st.events.find_subscriber(id);
  if (sub == nullptr) return;
  sub->waiting = false;
  if (!feed(self, *sub)) {
    st.events.remove_subscriber(id);
    arm_retirement(self);
  }
}

caf::result<storage::db_result> on_read_row(session_self self) {
  auto& st = self->state;
  if (st.row_read) return *st.row_read;
  // Kept only when the read started after every write and event of the session was stored and
  // nothing changed until its answer: then it is what PostgreSQL holds until the next change.
  bool settled = st.rows.quiet() && st.events.quiet();
  auto changes = st.row_changes;
  auto rp = self->make_response_promise<storage::db_result>();
  self->request(st.deps.pg, st.deps.db_timeout,
                storage::make_get_session_query(st.who.tenant_id, st.who.id))
      .then(
          [=](storage::db_result& r) mutable {
            cancel_answered_timeout(self);
            auto& now = self->state;
            if (settled && changes == now.row_changes) now.row_read = r;
            rp.deliver(std::move(r));
          },
          [=](caf::error& e) mutable {
            cancel_answered_timeout(self);
            rp.deliver(std::move(e));
          });
  return rp;
}

}  // namespace caa::detail
