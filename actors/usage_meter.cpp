#include "actors/usage_meter.hpp"

#include "config/logging.hpp"

#include <caf/all.hpp>

#include <cstdio>
#include <functional>

namespace caa {

namespace {

struct usage_meter_state {
  static inline const char* name = "usage_meter";
  std::shared_ptr<usage_tally> tally;
  storage::pg_actor pg;
  caf::timespan interval{};
  bool writing = false;  // one write in flight at a time
};

using meter_ptr = usage_meter_actor::stateful_pointer<usage_meter_state>;

void add_to(storage::model_usage_counts& into, const storage::model_usage_counts& c) {
  into.requests += c.requests;
  into.input_tokens += c.input_tokens;
  into.output_tokens += c.output_tokens;
  into.cache_creation_input_tokens += c.cache_creation_input_tokens;
  into.cache_read_input_tokens += c.cache_read_input_tokens;
}

/// Writes what the tally holds; `done(stored)` runs after the write (a failed one puts its
/// counts back). False when there was nothing to write (`done` does not run then).
bool write_tally(meter_ptr self, const std::function<void(bool)>& done) {
  auto batch = self->state.tally->take();
  auto q = storage::make_model_usage_add_query(batch);
  if (!q) return false;
  self->request(self->state.pg, std::chrono::seconds{10}, std::move(*q))
      .then([=](storage::db_result&) { done(true); },
            [=](caf::error&) {
              self->state.tally->put_back(batch);
              done(false);
            });
  return true;
}

/// The periodic write (nothing when a write is in flight).
void flush(meter_ptr self) {
  auto& st = self->state;
  if (st.writing) return;
  st.writing = write_tally(self, [self](bool stored) {
    self->state.writing = false;
    if (!stored) log::warn("model usage not stored yet; retrying", {.component = "usage"});
  });
}

usage_meter_actor::behavior_type usage_meter(meter_ptr self, std::shared_ptr<usage_tally> tally,
                                             storage::pg_actor pg, caf::timespan interval) {
  self->state.tally = std::move(tally);
  self->state.pg = std::move(pg);
  self->state.interval = interval;
  self->delayed_send(self, interval, caf::tick_atom_v);
  return {
      [=](caf::tick_atom) {
        flush(self);
        self->delayed_send(self, self->state.interval, caf::tick_atom_v);
      },
      [=](atom::drain) -> caf::result<bool> {
        // Beside a periodic write in flight, if any: the upsert adds, so the order is free.
        auto rp = self->make_response_promise<bool>();
        auto started = write_tally(self, [rp](bool stored) mutable {
          if (!stored) log::warn("model usage lost at shutdown", {.component = "usage"});
          rp.deliver(stored);
        });
        if (!started) rp.deliver(true);  // nothing to write
        return rp;
      },
  };
}

}  // namespace

void usage_tally::add(const std::string& tenant, const std::string& session,
                      const storage::model_usage_counts& c) {
  add(storage::model_usage_key{tenant, utc_day(std::chrono::system_clock::now()), session}, c);
}

void usage_tally::add(const storage::model_usage_key& key, const storage::model_usage_counts& c) {
  std::lock_guard<std::mutex> guard{mtx_};
  add_to(counts_[key], c);
}

usage_tally::counts usage_tally::take() {
  std::lock_guard<std::mutex> guard{mtx_};
  return std::exchange(counts_, {});
}

void usage_tally::put_back(const counts& batch) {
  std::lock_guard<std::mutex> guard{mtx_};
  for (const auto& [key, c] : batch) add_to(counts_[key], c);
}

std::string utc_day(std::chrono::system_clock::time_point now) {
  std::chrono::year_month_day ymd{std::chrono::floor<std::chrono::days>(now)};
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%04d-%02u-%02u", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
  return buf;
}

usage_meter_actor spawn_usage_meter(caf::actor_system& sys, std::shared_ptr<usage_tally> tally,
                                    storage::pg_actor pg, caf::timespan interval) {
  return sys.spawn(usage_meter, std::move(tally), std::move(pg), interval);
}

}  // namespace caa
