#pragma once

#include <caf/actor.hpp>
#include <caf/execution_unit.hpp>
#include <caf/message_id.hpp>
#include <caf/resumable.hpp>

#include <cstddef>
#include <utility>
#include <vector>

namespace caa {

/// Runs an actor that a plain thread's message woke on that thread, instead of waking a
/// scheduler worker for it: the thread hands the agent's output to its session and then runs
/// the session's handler itself, after the work it is doing returns. On two cores a worker's
/// wake-up is a large share of an event's latency at light load (docs/BENCHMARKS.md, "A
/// session runs on the thread that read its agent").
///
/// A thread opts in for its lifetime with `scope`, and calls `drain` where it holds no lock,
/// between one piece of work and the next (the agent I/O threads: after each handler).
/// Elsewhere `send` is an ordinary anonymous send.
///
/// What runs here: only the actor the message woke, for at most `budget` of its messages
/// (after that it goes on on the scheduler); what it sends wakes its receivers on the
/// scheduler as usual. The mailbox keeps the order of every message: only who runs the
/// actor changes.
class inline_unit final : public caf::execution_unit {
 public:
  /// Messages an actor handles here before the rest goes to the scheduler.
  static constexpr std::size_t budget = 64;

  /// Makes the calling thread one that drains; the unit lives until the scope ends, and
  /// whatever it still holds then is run.
  class scope {
   public:
    scope();
    ~scope();
    scope(const scope&) = delete;
    scope& operator=(const scope&) = delete;

   private:
    inline_unit* previous_;
  };

  inline_unit() = default;
  ~inline_unit() override;
  inline_unit(const inline_unit&) = delete;
  inline_unit& operator=(const inline_unit&) = delete;

  /// The calling thread's unit, null when it has none.
  static inline_unit* current() noexcept;

  /// Sends `xs` to `dest` without a sender. On a thread with a unit, an actor the message
  /// wakes waits for that thread's `drain`; elsewhere it is scheduled as usual.
  template <class... Ts>
  static void send(const caf::actor& dest, Ts&&... xs) {
    if (!dest) return;
    auto* unit = current();
    if (unit != nullptr) unit->sending_ = true;
    dest->eq_impl(caf::make_message_id(), nullptr, unit, std::forward<Ts>(xs)...);
    if (unit != nullptr) unit->sending_ = false;
  }

  /// Runs the actors woken by `send` on this thread since the last call.
  void drain();

  /// Hands the actors woken by `send` on this thread to the scheduler instead.
  void hand_over();

  /// How many actors waited for `drain` (woken since the last one).
  std::size_t waiting() const noexcept { return woken_.size(); }

  /// Called by CAF for an actor a message to it woke, with this unit as the sender's context.
  /// Only a `send` of this unit's own thread holds the actor for `drain`; anything else (an
  /// actor running here, or another thread that finds this unit as the context an actor last
  /// ran on, e.g. delivering its response promise) goes to the scheduler.
  void exec_later(caf::resumable* job) override;

 private:
  /// Runs `job` for up to `budget` messages; it goes on on the scheduler if it has more.
  void run(caf::resumable* job);

  // Touched by the owning thread only (exec_later checks the caller first).
  std::vector<caf::resumable*> woken_;  ///< each holds the reference its wake took
  std::vector<caf::resumable*> running_;
  bool sending_ = false;
  bool draining_ = false;
};

}  // namespace caa
