#pragma once

// The ownership lease of a live session (cluster): who may run it and write its rows. A node
// claims the lease before it starts a session's actor (every claim raises the epoch), renews it
// while the actor lives, and releases it when the actor ends. Every write of a session's events
// and rows names the epoch it was made under and fails in SQL under an older one
// (`caa_fence`, migration 005), so a paused or cut-off former owner can never write after a
// takeover. Pure request builders and parsers over the pg_actor protocol.

#include "storage/types.hpp"

#include <caf/expected.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace caa::storage {

/// How a claim of a session's lease ended.
struct lease_claim {
  bool claimed = false;                    ///< this node holds the lease now
  uint64_t epoch = 0;                      ///< claimed: the new epoch (every write names it)
  std::optional<std::string> holder;       ///< not claimed: the node whose lease is still running
  std::chrono::milliseconds remaining{0};  ///< not claimed: how long that lease still runs
  /// Claimed from a node that left a turn running: the turn was ended as interrupted (an
  /// `error` and a `done{interrupted}` event) in the same transaction, exactly once.
  bool interrupted_turn = false;
  uint64_t last_seq = 0;  ///< claimed with `interrupted_turn`: the session's last_seq after it
};

/// Claims session `id` of `tenant_id` for `node` for `ttl`: granted when no other node holds a
/// running lease (none, expired, released, or `node`'s own from an actor that ended). A turn
/// the former owner left running ends as interrupted in the same transaction. Errors of the
/// parse: session_not_found. Reply: `parse_lease_claim`.
db_batch make_claim_lease_batch(std::string_view tenant_id, std::string_view id,
                                std::string_view node, std::chrono::milliseconds ttl);

/// The outcome of `make_claim_lease_batch`.
caf::expected<lease_claim> parse_lease_claim(const std::vector<db_result>& rs);

/// Extends `node`'s lease of session `id` at `epoch` by `ttl` from now. Reply: `db_result`;
/// `affected == 0` means the lease is lost (another node claimed it): the actor must stop.
db_query make_renew_lease_query(std::string_view id, std::string_view node, uint64_t epoch,
                                std::chrono::milliseconds ttl);

/// Ends `node`'s lease of session `id` at `epoch` (any node may claim it at once).
db_query make_release_lease_query(std::string_view id, std::string_view node, uint64_t epoch);

/// A statement that fails the transaction it is in (errc::fenced) unless session `id` is at
/// `epoch`; it also holds the row against a takeover until the transaction ends. Append it to
/// a batch of the session's writes.
db_query make_fence_query(std::string_view id, uint64_t epoch);

}  // namespace caa::storage
