#pragma once

// The model proxy's usage counts per (tenant, UTC day, session): gathered in memory by the
// proxy's I/O threads (a mutex and a map: no I/O, no actor message per model request) and
// written to PostgreSQL by the usage meter actor once per interval, one upsert statement per
// batch. A failed write puts its counts back, so they go out with the next batch.

#include "actors/interfaces.hpp"
#include "storage/postgres/pg_pool.hpp"
#include "storage/postgres/usage_queries.hpp"

#include <caf/actor_system.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace caa {

/// The counts not yet written. Thread-safe.
class usage_tally {
 public:
  /// The batch type.
  using counts = std::map<storage::model_usage_key, storage::model_usage_counts>;

  /// Adds `c` to the counts of `tenant`/`session` on the current UTC day.
  void add(const std::string& tenant, const std::string& session,
           const storage::model_usage_counts& c);

  /// Adds `c` to the counts of `key`.
  void add(const storage::model_usage_key& key, const storage::model_usage_counts& c);

  /// Takes every count out (the tally is empty afterwards).
  counts take();

  /// Puts counts of a failed write back (added to what arrived meanwhile).
  void put_back(const counts& batch);

 private:
  std::mutex mtx_;
  counts counts_;
};

/// Today's UTC date as YYYY-MM-DD.
std::string utc_day(std::chrono::system_clock::time_point now);

/// Spawns the meter: every `interval` it writes what `tally` gathered through `pg`.
usage_meter_actor spawn_usage_meter(caf::actor_system& sys, std::shared_ptr<usage_tally> tally,
                                    storage::pg_actor pg,
                                    caf::timespan interval = std::chrono::seconds{1});

}  // namespace caa
