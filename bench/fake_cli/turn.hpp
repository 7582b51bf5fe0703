#pragma once

// One turn of the fake CLI: `system/init`, a configured number of text events of a configured
// size at a configured rate (each stamped with its CLOCK_MONOTONIC send time), then `result`.

#include <cstdint>
#include <string>
#include <string_view>

namespace bench::fake {

/// What a turn emits. Read from the environment, then overridden by `key=value` words of the
/// prompt (the service forwards only an allow-list of variables to its CLI, the prompt always).
struct turn_settings {
  int64_t events = 10;        ///< FAKE_CLI_EVENTS / `events=`: text events per turn
  int64_t bytes = 200;        ///< FAKE_CLI_EVENT_BYTES / `bytes=`: size of one event line
  double rate = 0;            ///< FAKE_CLI_RATE / `rate=`: events per second, 0 = at once
  int64_t init_delay_ms = 0;  ///< FAKE_CLI_INIT_DELAY_MS / `init_delay_ms=`: start-up delay
};

/// The settings of the environment (defaults for unset or malformed variables).
turn_settings settings_from_env();

/// `base` with the `events=`, `bytes=`, `rate=` and `init_delay_ms=` words of `prompt` applied.
turn_settings settings_from_prompt(turn_settings base, std::string_view prompt);

/// Emits the turns of one session, one at a time, without blocking: the caller asks when the
/// next event is due and calls `emit_due` then, reading stdin in between (interrupts).
class turn_emitter {
 public:
  /// `partial`: events are `stream_event` text deltas (`--include-partial-messages`).
  turn_emitter(std::string session_id, bool partial);

  /// Starts a turn: writes `system/init`; a message with `should_query` false ends at once
  /// with a `result` of `num_turns: 0`.
  void start(const turn_settings& cfg, bool should_query);

  /// Whether a turn is running.
  bool active() const { return active_; }

  /// When the next event is due (CLOCK_MONOTONIC ns); only meaningful while `active()`.
  int64_t next_due_ns() const;

  /// Writes the events due at `now_ns` (at most `max_events`); writes the result after the last.
  void emit_due(int64_t now_ns, int64_t max_events);

  /// Ends the running turn as the CLI does on `interrupt`: a marker, then an error result.
  void interrupt();

 private:
  void emit_one();
  void finish(bool interrupted, int num_turns);

  std::string session_id_;
  bool partial_;
  bool active_ = false;
  turn_settings cfg_;
  int64_t started_ns_ = 0;
  int64_t sent_ = 0;
  uint64_t turn_no_ = 0;
  std::string padding_;
};

}  // namespace bench::fake
