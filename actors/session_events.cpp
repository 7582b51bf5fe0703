#include "actors/session_impl.hpp"

#include "config/errc.hpp"
#include "config/logging.hpp"
#include "config/metrics_catalog.hpp"

#include <caf/all.hpp>

namespace caa::detail {

namespace {

using namespace std::chrono_literals;

}  // namespace

void emit(session_self self, api_event ev) {
  auto& st = self->state;
  kept_event k{++st.last_seq, std::move(ev.name), std::move(ev.data)};
  st.unwritten.push_back(k);
  st.window.push_back(std::move(k));
  while (st.window.size() > replay_window)
    st.window.pop_front();
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
  st.unwritten.clear();
  st.write_in_flight = true;
  // Commit before send: subscribers see an event only once PostgreSQL has it, so every event
  // a client received survives a crash.
  self->request(st.deps.writer, st.deps.db_timeout, atom::append_v, std::move(batch))
    .then(
      [=](uint64_t) {
        auto& s = self->state;
        s.write_in_flight = false;
        s.committed_seq = std::max(s.committed_seq, upto);
        deliver(self);
        flush(self);
      },
      [=](caf::error& err) {
        auto& s = self->state;
        log::warn("event write failed; retrying",
                  {.component = "session", .session_id = s.who.id,
                   .error_code = to_string(errc_of(err))});
        // Put the batch back (writes are idempotent: ON CONFLICT DO NOTHING) and retry soon.
        std::vector<kept_event> again;
        for (auto& e : s.window)
          if (e.seq > s.committed_seq && e.seq <= upto)
            again.push_back(e);
        again.insert(again.end(), s.unwritten.begin(), s.unwritten.end());
        s.unwritten = std::move(again);
        s.write_in_flight = false;
        self->delayed_send(self, 500ms, atom::timeout_v, int32_t{3}, uint64_t{0});
      });
}

void deliver(session_self self) {
  auto& st = self->state;
  auto& subs = st.subscribers;
  uint64_t first = st.window.empty() ? 0 : st.window.front().seq;
  for (auto it = subs.begin(); it != subs.end();) {
    bool keep = it->sink->open();
    // The window is ordered by seq: start right after what this subscriber has.
    std::size_t idx = it->after + 1 > first ? it->after + 1 - first : 0;
    for (; keep && idx < st.window.size(); ++idx) {
      auto& e = st.window[idx];
      if (e.seq > st.committed_seq)
        break;
      keep = it->sink->deliver(e.seq, e.name, e.data);
      metrics::event_delivered(keep);  // streamed, or a subscriber dropped
      it->after = e.seq;
    }
    if (keep) {
      ++it;
    } else {
      it->sink->close();
      it = subs.erase(it);
    }
  }
}

}  // namespace caa::detail
