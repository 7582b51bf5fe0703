#pragma once

// Message types and atoms of the storage layer, and their CAF type-ID block `caa_storage`.
// The block starts at `caf::first_custom_type_id`; chain the next block at
// `caf::id_block::caa_storage::end` and load it with
// `cfg.add_message_types<caf::id_block::caa_storage>()`.

#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/optional.hpp>
#include <caf/type_id.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace caa::storage {

/// A nullable SQL value in text form (`caf::none` is SQL NULL).
using db_value = caf::optional<std::string>;

/// One row of a result, one value per column.
using db_row = std::vector<db_value>;

/// Runs the named statement of the catalogue (`storage/postgres/statements.hpp`) with `params`
/// ($1, $2, ...). The SQL text never travels in a message: an unknown name is an error.
struct db_query {
  std::string statement_name;    ///< a name from the statement catalogue
  std::vector<db_value> params;  ///< positional parameters in text form; none = NULL
};

/// The rows of a statement and the number of rows it inserted, updated or deleted.
struct db_result {
  std::vector<db_row> rows;  ///< result rows (empty for statements without RETURNING)
  uint64_t affected = 0;     ///< affected rows of INSERT/UPDATE/DELETE
};

/// Several statements run in ONE transaction: all commit, or none does.
struct db_batch {
  std::vector<db_query> queries;  ///< run in order
};

/// INTERNAL to the PostgreSQL pool: independent autocommit statements one worker sends as one
/// pipeline (one round trip), each with its own outcome.
struct db_pipeline {
  std::vector<db_query> queries;  ///< run in order, each its own transaction
};

/// INTERNAL to the PostgreSQL pool: the outcome of every statement of a `db_pipeline`, in
/// order: `errors[i]` set means statement i failed, else `results[i]` holds its rows.
struct db_outcomes {
  std::vector<db_result> results;
  std::vector<caf::error> errors;
};

/// One Redis command as its argument vector, e.g. {"GET", "k"}.
struct redis_command {
  std::vector<std::string> args;  ///< the command name and its arguments (binary-safe)
};

/// The kind of a Redis (RESP2) reply.
enum class redis_reply_kind : uint8_t { nil, status, error, string, integer, array };

/// The stable name of a reply kind.
inline const char* to_string(redis_reply_kind x) noexcept {
  switch (x) {
    case redis_reply_kind::nil:
      return "nil";
    case redis_reply_kind::status:
      return "status";
    case redis_reply_kind::error:
      return "error";
    case redis_reply_kind::string:
      return "string";
    case redis_reply_kind::integer:
      return "integer";
    case redis_reply_kind::array:
      return "array";
  }
  return "nil";
}

/// A Redis reply; an `error` reply (e.g. NOSCRIPT) is a value, not a `caf::error`.
struct redis_reply {
  redis_reply_kind kind = redis_reply_kind::nil;  ///< what the reply is
  std::string str;                                ///< status, error or string text
  int64_t integer = 0;                            ///< the integer of an integer reply
  std::vector<std::string> elements;              ///< an array's elements (integers as text)
};

/// One event of a session's stream: what the session actor hands to the `event_writer` and what
/// replay reads back. `seq` is the SSE id: per session 1, 2, 3, ... without holes.
struct session_event {
  std::string session_id;    ///< uuid
  uint64_t seq = 0;          ///< > 0
  std::string type;          ///< the SSE event name, e.g. "message", "done"
  std::string payload_json;  ///< a JSON document (stored as jsonb)
  uint64_t epoch = 0;        ///< the session's lease epoch it is written under (0: unfenced)
};

/// Counters of an `event_writer`, for tests and metrics.
struct event_writer_stats {
  uint64_t batches = 0;   ///< INSERT statements that committed
  uint64_t requests = 0;  ///< append requests answered with success
  uint64_t events = 0;    ///< events in those requests
  uint64_t failures = 0;  ///< append requests answered with an error
};

/// Inspects a `db_query`.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, db_query& x) {
  return f(caf::meta::type_name("caa::storage::db_query"), x.statement_name, x.params);
}

/// Inspects a `db_result`.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, db_result& x) {
  return f(caf::meta::type_name("caa::storage::db_result"), x.rows, x.affected);
}

/// Inspects a `db_batch`.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, db_batch& x) {
  return f(caf::meta::type_name("caa::storage::db_batch"), x.queries);
}

/// Inspects a `db_pipeline`.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, db_pipeline& x) {
  return f(caf::meta::type_name("caa::storage::db_pipeline"), x.queries);
}

/// Inspects a `db_outcomes`.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, db_outcomes& x) {
  return f(caf::meta::type_name("caa::storage::db_outcomes"), x.results, x.errors);
}

/// Inspects a `redis_command`.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, redis_command& x) {
  return f(caf::meta::type_name("caa::storage::redis_command"), x.args);
}

/// Inspects a `session_event`.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, session_event& x) {
  return f(caf::meta::type_name("caa::storage::session_event"), x.session_id, x.seq, x.type,
           x.payload_json, x.epoch);
}

/// Inspects an `event_writer_stats`.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, event_writer_stats& x) {
  return f(caf::meta::type_name("caa::storage::event_writer_stats"), x.batches, x.requests,
           x.events, x.failures);
}

/// Inspects a `redis_reply`.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, redis_reply& x) {
  return f(caf::meta::type_name("caa::storage::redis_reply"), x.kind, x.str, x.integer, x.elements);
}

}  // namespace caa::storage

CAF_BEGIN_TYPE_ID_BLOCK(caa_storage, caf::first_custom_type_id)

CAF_ADD_TYPE_ID(caa_storage, (caa::storage::db_query))
CAF_ADD_TYPE_ID(caa_storage, (caa::storage::db_result))
CAF_ADD_TYPE_ID(caa_storage, (caa::storage::db_batch))
CAF_ADD_TYPE_ID(caa_storage, (std::vector<caa::storage::db_result>))
CAF_ADD_TYPE_ID(caa_storage, (caa::storage::redis_command))
CAF_ADD_TYPE_ID(caa_storage, (caa::storage::redis_reply))

/// Health probe: `ping` -> bool.
CAF_ADD_ATOM(caa_storage, caa::atom, ping, "ping")
/// INTERNAL: a storage worker (re)connects to its server.
CAF_ADD_ATOM(caa_storage, caa::atom, reconnect, "reconnect")

CAF_ADD_TYPE_ID(caa_storage, (caa::storage::session_event))
CAF_ADD_TYPE_ID(caa_storage, (std::vector<caa::storage::session_event>))
CAF_ADD_TYPE_ID(caa_storage, (caa::storage::event_writer_stats))
CAF_ADD_TYPE_ID(caa_storage, (caa::storage::db_pipeline))
CAF_ADD_TYPE_ID(caa_storage, (caa::storage::db_outcomes))

/// INTERNAL: the PostgreSQL pool looks again whether queued reads may start.
CAF_ADD_ATOM(caa_storage, caa::atom, reads_due, "reads_due")

/// Event writer: `append, events` -> the highest seq, once committed.
CAF_ADD_ATOM(caa_storage, caa::atom, append, "append")

CAF_END_TYPE_ID_BLOCK(caa_storage)
