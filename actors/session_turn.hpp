#pragma once

// The turn of a session: the running one, and the work waiting for the session's process.

#include "actors/session_types.hpp"
#include "storage/postgres/usage_queries.hpp"

#include <caf/error.hpp>
#include <caf/typed_response_promise.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <utility>

namespace caa::detail {

/// Work waiting for the session's process (a turn, or a rewind of a hibernated session).
struct waiting_work {
  std::function<void()> ready;           ///< the process runs: start the work
  std::function<void(caf::error)> fail;  ///< no process could be had: answer the error
};

/// The current (or last) turn of a session, the work waiting for its process, and the file
/// checkpoint of the turn.
struct session_turn {
  /// The number of the current turn (turns so far).
  uint32_t number = 0;
  /// The client or the turn deadline asked the CLI to interrupt this turn.
  bool interrupt_requested = false;
  /// From this turn's result.
  double cost_usd = 0;
  /// From this turn's result.
  std::string usage_json;
  /// From this turn's result.
  std::optional<std::string> model;
  /// Names the current `idle_due` message (an older one is ignored).
  uint64_t idle_token = 0;
  /// The spec of the work waiting for its process.
  turn_spec_ptr waiting_spec;
  /// The work waiting for its process.
  std::optional<waiting_work> waiting;
  /// The tenant's spend check of the waiting turn is in flight (nothing starts it meanwhile).
  bool budget_pending = false;
  /// The tenant's hard spend cap nearest to its end, as the spend check of this turn read it
  /// (none: no hard cap). It bounds the process's `--max-budget-usd`.
  std::optional<storage::nearest_cap> hard_cap;
  /// The answer of the `run` whose turn waits for its process.
  std::optional<caf::typed_response_promise<turn_accepted>> promise;

  /// Whether this turn keeps a file checkpoint.
  bool checkpointed = false;
  /// The prompt uuid (the checkpoint id).
  std::string uuid;
  /// The absolute tenant work dir, for relative paths.
  std::string work_root;
  /// The files its edit tools touched (relative to `work_root`).
  std::set<std::string> files;

  /// Starts the next turn with prompt `prompt_uuid`; the figures of the last one are cleared.
  void begin(std::string prompt_uuid, bool keeps_checkpoint, std::string root) {
    ++number;
    interrupt_requested = false;
    cost_usd = 0;
    usage_json = "{}";
    model.reset();
    uuid = std::move(prompt_uuid);
    files.clear();
    checkpointed = keeps_checkpoint;
    work_root = std::move(root);
  }

  /// Takes the waiting work out (none waits afterwards; its spec stays).
  waiting_work take_waiting() {
    auto w = std::move(*waiting);
    waiting.reset();
    return w;
  }

  /// Whether no work waits for the process.
  bool quiet() const noexcept { return !waiting; }
};

}  // namespace caa::detail
