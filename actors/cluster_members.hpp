#pragma once

// The membership table of the cluster actor: the last known list of nodes, what Redis said of
// them, and the backoff of connection attempts. A plain class, tested without actors or Redis.

#include "actors/cluster_types.hpp"
#include "storage/redis/node_directory.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace caa {

/// The delay before connection attempt `failures` + 1 to a peer after `failures` failed ones:
/// 250 ms doubling up to 30 s.
std::chrono::milliseconds connect_backoff(uint32_t failures);

/// The nodes this node knows of, by id (itself excluded).
class cluster_members {
 public:
  /// What is known of one node.
  struct entry {
    storage::node_record record;  ///< its last announcement
    bool alive = false;           ///< its announcement key existed at the last read
  };

  /// A table for node `self_id`; a gone node is forgotten (from Redis too) after `forget_after`.
  cluster_members(std::string self_id, std::chrono::milliseconds forget_after);

  /// A read of Redis: `index` (the last record of every node) and `alive[i]` for `index[i]`.
  /// A known node missing from the index is gone; this node's own entry is ignored.
  void observe(const std::vector<storage::node_record>& index, const std::vector<bool>& alive);

  /// The same at `now_ms`, where a known alive node missing from the index stays alive until
  /// its last announcement is `node_ttl` old: a Redis that restarted empty (or failed over)
  /// does not make every peer gone before they announce themselves again.
  void observe(const std::vector<storage::node_record>& index, const std::vector<bool>& alive,
               int64_t now_ms, std::chrono::milliseconds node_ttl);

  /// Redis could not be read: the last known list stays as it is.
  void unreadable() { from_redis_ = false; }

  /// Whether the last read of Redis succeeded.
  [[nodiscard]] bool from_redis() const noexcept { return from_redis_; }

  /// Ids of gone nodes whose last announcement is older than `forget_after` at `now_ms`: they
  /// leave this table, and the caller removes them from the index.
  std::vector<std::string> forget_stale(int64_t now_ms);

  /// Every known node but this one.
  [[nodiscard]] const std::map<std::string, entry>& entries() const noexcept { return entries_; }

  /// Where a new session goes when this node holds `processes` of its `budget` live agent
  /// processes: here (nothing) while it has room; else the alive node with the most room
  /// left by its last announcement (lowest share of its budget in use, then fewest processes,
  /// then id), or here when no node announced room.
  [[nodiscard]] std::optional<std::string> place(uint64_t processes, uint64_t budget) const;

  /// The member `id` as shown at `now_ms` (its link state left "none").
  [[nodiscard]] static cluster_member show(const entry& e, int64_t now_ms);

 private:
  std::string self_id_;
  std::chrono::milliseconds forget_after_;
  std::map<std::string, entry> entries_;
  bool from_redis_ = false;
};

}  // namespace caa
