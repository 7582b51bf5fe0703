#pragma once

// The bookkeeping of the agent process budget, without actors and without a clock of its own
// (every call gets `now`), so a property test can drive it through any sequence of events.
//
// Nothing is a hand-kept counter: every number is derived from one map of slots (sessions and
// capabilities probes), one list of warm-pool slots and one list of waiters. An ask to give a
// slot up (a session to hibernate, the warm pool to end a process) is remembered with its time
// and counts as "on its way" only while it can still be honoured and for at most `patience`:
// an ask that went nowhere (the warm process was adopted instead, the session got a turn) stops
// counting, and the next event or recheck asks again. The owner (the admission actor) does what
// the returned `effects` say.

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace caa::admission_logic {

using time_point = std::chrono::steady_clock::time_point;
using duration = std::chrono::steady_clock::duration;

/// Who holds (or waits for) a slot: a session, or a capabilities probe.
using claimant_id = uint64_t;

/// The limits.
struct book_config {
  uint32_t budget = 1;        ///< MAX_AGENT_PROCESSES (resolved, >= 1)
  uint32_t max_starting = 0;  ///< MAX_CONCURRENT_SPAWNS; 0: no cap
  uint32_t tenant_share = 1;  ///< TENANT_MAX_AGENT_PROCESSES (resolved, >= 1)
  /// How long an ask to give a slot up counts as on its way.
  duration patience = std::chrono::seconds{5};
};

/// Why a waiter that ran out of time is refused.
enum class refusal { none, capacity, tenant };

/// What the owner must do after a call.
struct effects {
  std::vector<uint64_t> granted;       ///< waiters (tickets) that got their slot: answer true
  std::vector<claimant_id> hibernate;  ///< sessions to ask to hibernate
  uint32_t ask_pool = 0;               ///< warm processes to ask the pool to give up
  bool recheck = false;                ///< call `recheck` after `patience`
};

/// The budget's state.
class book {
 public:
  explicit book(book_config cfg);

  /// `who` of `tenant` wants a slot; `hibernatable`: a session (a probe cannot be asked to go).
  /// True: it holds one now (a holder asking again is simply busy). False: it waits as
  /// `*ticket` until `effects::granted` names it or `expire(ticket)` refuses it.
  bool acquire(claimant_id who, const std::string& tenant, bool hibernatable, time_point now,
               uint64_t& ticket, effects& fx);
  /// `who`'s process wrote its first line: its start no longer counts.
  void ready(claimant_id who, time_point now, effects& fx);
  /// `who` gave its slot back (process gone, probe over, session ended).
  void release(claimant_id who, time_point now, effects& fx);
  /// `from`'s slot becomes `to`'s: processes killed and not reaped yet, never idle nor asked to
  /// go, no longer starting. Nothing when `from` holds none.
  void hand_over(claimant_id from, claimant_id to, time_point now, effects& fx);
  /// `who` is idle: a hibernation candidate.
  void idle(claimant_id who, time_point now, effects& fx);
  /// `who` runs a turn: not a candidate.
  void busy(claimant_id who, time_point now, effects& fx);
  /// A slot for a warm process, only when one is free and nobody waits.
  bool acquire_warm();
  /// A warm process's start is over.
  void warm_ready(time_point now, effects& fx);
  /// A warm process ended.
  void release_warm(time_point now, effects& fx);
  /// A warm process became session `who`'s (of `tenant`): the slot moves.
  void adopt_warm(claimant_id who, const std::string& tenant, time_point now, effects& fx);
  /// Waiter `ticket` ran out of time: why it is refused (`none`: it is not waiting any more).
  refusal expire(uint64_t ticket, time_point now, effects& fx);
  /// Asks that went nowhere stop counting; asks again where needed.
  void recheck(time_point now, effects& fx);
  /// `tenant`'s own share of processes (its `max_agent_processes`; none: the default share).
  /// A larger share may serve its waiters at once.
  void set_share(const std::string& tenant, std::optional<uint32_t> share, time_point now,
                 effects& fx);
  /// Replaces every tenant's own share (the tenants not in `shares` get the default).
  void set_shares(std::map<std::string, uint32_t> shares, time_point now, effects& fx);
  /// The share of `tenant`: its own, else `book_config::tenant_share`.
  uint32_t share_of(const std::string& tenant) const;

  // -- derived numbers ----------------------------------------------------------------------

  std::size_t in_use() const noexcept { return slots_.size() + warm_.size(); }
  std::size_t held() const noexcept { return slots_.size(); }
  std::size_t held_by(const std::string& tenant) const;
  std::size_t idle_count() const;
  std::size_t waiting() const noexcept { return waiters_.size(); }
  uint32_t starting() const;
  std::size_t warm() const noexcept { return warm_.size(); }
  bool holds(claimant_id who) const { return slots_.count(who) > 0; }
  bool is_waiting(uint64_t ticket) const;
  const book_config& config() const noexcept { return cfg_; }
  /// Asks still on their way at `now` (sessions asked and still idle, warm asks).
  std::size_t asks_on_their_way(time_point now) const;
  /// Waiters kept only by the budget (their tenant is below its share, the start cap is not
  /// what keeps them).
  std::size_t blocked_by_budget() const;
  /// Idle sessions that could be asked to hibernate, plus warm processes.
  std::size_t yieldable() const;

 private:
  struct slot {
    std::string tenant;
    bool hibernatable = true;
    bool idle = false;
    bool starting = true;
    std::optional<time_point> asked;  // asked to hibernate at
    time_point last_used;
  };
  struct warm_slot {
    bool starting = true;
  };
  struct waiter {
    uint64_t ticket;
    claimant_id who;
    std::string tenant;
    bool hibernatable;
  };

  std::map<std::string, uint32_t> shares_;  // tenants' own shares (tenant_limits)

  bool budget_full() const noexcept { return in_use() >= cfg_.budget; }
  bool may_start() const;
  bool tenant_full(const std::string& tenant) const;
  /// Removes one warm slot, a ready one first.
  void drop_warm_slot();
  /// Forgets asks that can no longer be honoured or took longer than `patience`.
  void forget_stale_asks(time_point now);
  /// Grants slots to waiters while possible: the tenant holding the fewest slots first.
  void serve(time_point now, effects& fx);
  /// Asks holders to give up slots for the waiters that need it.
  void make_room(time_point now, effects& fx);
  void grant(claimant_id who, const std::string& tenant, bool hibernatable, time_point now);
  /// The least recently used idle session not asked yet (of `tenant` when given).
  slot* lru_candidate(const std::string* tenant, claimant_id* id);

  book_config cfg_;
  std::map<claimant_id, slot> slots_;
  std::vector<warm_slot> warm_;
  std::vector<time_point> warm_asks_;  // when the pool was asked to give a process up
  std::vector<waiter> waiters_;        // in arrival order
  uint64_t next_ticket_ = 1;
};

}  // namespace caa::admission_logic
