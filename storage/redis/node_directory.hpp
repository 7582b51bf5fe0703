#pragma once

// The cluster's node directory in Redis: what a node announces, the commands that announce and
// read it, and the parsers of their replies. Pure functions; the membership actor sends them.
//
// Keys: `caa:cluster:node:<id>` holds a node's record and expires CLUSTER_NODE_TTL after its
// last announcement (its presence is what "alive" means); the hash `caa:cluster:nodes` keeps the
// last record of every node, so a node whose key expired can still be listed as gone.

#include "storage/types.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace caa::storage {

/// What one node announces about itself.
struct node_record {
  std::string node_id;       ///< NODE_ID (printable, no blanks)
  std::string host;          ///< CLUSTER_ADVERTISE_HOST (no blanks)
  uint16_t port = 0;         ///< CLUSTER_PORT
  uint64_t sessions = 0;     ///< session actors in memory
  uint64_t processes = 0;    ///< live agent processes
  int64_t heartbeat_ms = 0;  ///< when it was announced (UNIX milliseconds, the node's clock)
  uint64_t budget = 0;       ///< its process budget (MAX_AGENT_PROCESSES; 0: not announced)
};

/// The text of a record: "v2 <id> <host> <port> <sessions> <processes> <heartbeat_ms> <budget>".
/// A "v1" record (the same without the budget) is read with budget 0.
std::string encode_node_record(const node_record& x);

/// Reads the text of `encode_node_record`; nothing when it is not one.
std::optional<node_record> parse_node_record(std::string_view text);

/// The key whose presence says node `id` is alive.
std::string node_alive_key(std::string_view id);

/// The hash of the last record of every node.
std::string_view node_index_key();

/// SET <alive key> <record> PX <ttl>.
redis_command announce_command(const node_record& x, std::chrono::milliseconds ttl);

/// HSET <index> <id> <record>.
redis_command index_command(const node_record& x);

/// HGETALL <index>.
redis_command list_command();

/// MGET of the alive keys of `ids` (in order); `ids` must not be empty.
redis_command alive_command(const std::vector<std::string>& ids);

/// HDEL <index> <ids...>; `ids` must not be empty.
redis_command forget_command(const std::vector<std::string>& ids);

/// The records of an HGETALL reply of the index; entries that do not parse, or whose field is
/// not the record's id, are skipped. Nothing when the reply is not an array.
std::optional<std::vector<node_record>> parse_node_index(const redis_reply& r);

/// Which of `n` nodes asked with `alive_command` are alive (their key exists). Nothing when the
/// reply is not an array of `n` elements.
std::optional<std::vector<bool>> parse_alive(const redis_reply& r, std::size_t n);

}  // namespace caa::storage
