#pragma once

// The CLI process of one session and its admission slot.

#include "actors/cli_launcher.hpp"
#include "actors/cli_start.hpp"
#include "transport/claude/control.hpp"

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace caa::detail {

/// A process of the session being started off its thread: what the session needs when it
/// arrives.
struct cli_launch {
  /// The generation the process becomes.
  uint64_t gen = 0;
  /// The start itself.
  cli_start_ticket ticket;
  /// The spawn-time options (JSON) of its spec.
  std::string options_json;
  /// Its `--max-budget-usd`, and whether that is the tenant's hard cap.
  std::optional<double> budget_usd;
  bool budget_is_cap = false;
};

/// The session's CLI process (at most one), the processes still ending, and the slot admission
/// granted for them.
struct session_cli_slot {
  /// The current process, or null.
  std::shared_ptr<cli_process> proc;
  /// The process being started (no current one meanwhile), or none. Forgotten, the process is
  /// killed when it arrives.
  std::optional<cli_launch> launching;
  /// The generation of the current process: lines and exits of older generations are ignored.
  uint64_t gen = 0;
  /// Processes asked to end (hibernation) that have not exited yet, by generation; their slot is
  /// given back (or reused) only when they are gone, so the budget is never exceeded.
  std::map<uint64_t, std::shared_ptr<cli_process>> retiring;
  /// Whether the session holds a process slot of admission.
  bool holds_slot = false;
  /// The current process has not spoken yet: admission counts it as starting.
  bool starting = false;
  /// The spawn-time options (JSON) the current process was started with.
  std::string proc_options_json;
  /// The `--max-budget-usd` the current process was started with: the CLI compares it with its
  /// cost since it started, over all its turns.
  std::optional<double> proc_budget_usd;
  /// `proc_budget_usd` is the tenant's hard cap (not a smaller `max_budget_usd` of the request).
  bool proc_budget_is_cap = false;
  /// The current process reached `proc_budget_usd`: the CLI fails every later turn at once.
  bool proc_budget_hit = false;
  /// The ids of our control requests.
  claude::request_id_generator request_ids;

  /// The current process was started with `--max-budget-usd` `usd` (none: unbounded), the
  /// tenant's hard cap when `is_cap`; it has not reached it.
  void bound_by(std::optional<double> usd, bool is_cap) {
    proc_budget_usd = usd;
    proc_budget_is_cap = is_cap;
    proc_budget_hit = false;
  }

  /// Moves the current process to `retiring` (it was asked to end).
  void retire_current() {
    retiring[gen] = std::move(proc);
    proc.reset();
  }

  /// Kills the current process and starts a new generation (its lines are ignored). It retires:
  /// a new process waits for its exit, which frees the slot for it.
  void discard_current() {
    proc->kill();
    retire_current();
    ++gen;
  }

  /// Kills every process, current, starting and retiring, and forgets them; the killed ones (a
  /// process still starting is killed when it arrives).
  std::vector<std::shared_ptr<cli_process>> kill_all() {
    std::vector<std::shared_ptr<cli_process>> killed;
    if (proc) killed.push_back(std::exchange(proc, nullptr));
    launching.reset();
    for (auto& [g, p] : retiring) killed.push_back(std::move(p));
    retiring.clear();
    for (auto& p : killed) p->kill();
    return killed;
  }

  /// Gives the slot up; whether it was held (admission must then be told).
  bool give_up_slot() { return std::exchange(holds_slot, false); }

  /// Whether no process lives and no slot is held.
  bool quiet() const noexcept { return !proc && !launching && retiring.empty() && !holds_slot; }
};

}  // namespace caa::detail
