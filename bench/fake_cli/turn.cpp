#include "bench/fake_cli/turn.hpp"

#include "bench/fake_cli/wire.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace bench::fake {

namespace {

/// Digits of the send time: zero-padded so that the stamp is written in place, last.
constexpr size_t stamp_digits = 19;

template <class T>
void parse_number(std::string_view text, T& out) {
  T value{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec == std::errc{} && value >= T{0}) out = value;
}

template <class T>
void read_env(const char* name, T& out) {
  if (const char* v = std::getenv(name)) parse_number(std::string_view{v}, out);
}

/// The value of `key=` in `text` (up to the next blank), empty when absent.
std::string_view word_value(std::string_view text, std::string_view key) {
  for (size_t pos = text.find(key); pos != std::string_view::npos; pos = text.find(key, pos + 1)) {
    if (pos > 0 && text[pos - 1] != ' ' && text[pos - 1] != '\n' && text[pos - 1] != '\t') continue;
    auto start = pos + key.size();
    auto end = text.find_first_of(" \t\n\r", start);
    return text.substr(start, end == std::string_view::npos ? end : end - start);
  }
  return {};
}

}  // namespace

turn_settings settings_from_env() {
  turn_settings s;
  read_env("FAKE_CLI_EVENTS", s.events);
  read_env("FAKE_CLI_EVENT_BYTES", s.bytes);
  read_env("FAKE_CLI_RATE", s.rate);
  read_env("FAKE_CLI_INIT_DELAY_MS", s.init_delay_ms);
  return s;
}

turn_settings settings_from_prompt(turn_settings s, std::string_view prompt) {
  parse_number(word_value(prompt, "events="), s.events);
  parse_number(word_value(prompt, "bytes="), s.bytes);
  parse_number(word_value(prompt, "rate="), s.rate);
  parse_number(word_value(prompt, "init_delay_ms="), s.init_delay_ms);
  return s;
}

turn_emitter::turn_emitter(std::string session_id, bool partial)
    : session_id_(std::move(session_id)), partial_(partial) {
  // nop
}

void turn_emitter::start(const turn_settings& cfg, bool should_query) {
  cfg_ = cfg;
  started_ns_ = monotonic_ns();
  sent_ = 0;
  ++turn_no_;
  write_line(system_init(session_id_));
  if (!should_query) {
    finish(false, 0);
    return;
  }
  // Pad the text so that one event line is about `bytes` long (the rest of the line is ~330).
  auto overhead = static_cast<int64_t>(partial_ ? 250 : 330);
  padding_.assign(static_cast<size_t>(std::max<int64_t>(0, cfg_.bytes - overhead)), 'x');
  active_ = true;
  if (cfg_.events == 0) finish(false, 1);
}

int64_t turn_emitter::next_due_ns() const {
  if (cfg_.rate <= 0) return started_ns_;
  return started_ns_ + static_cast<int64_t>(static_cast<double>(sent_) * 1e9 / cfg_.rate);
}

void turn_emitter::emit_due(int64_t now_ns, int64_t max_events) {
  for (int64_t n = 0; active_ && n < max_events && next_due_ns() <= now_ns; ++n) {
    emit_one();
    if (sent_ == cfg_.events) finish(false, 1);
  }
}

void turn_emitter::emit_one() {
  std::string text = "t=" + std::string(stamp_digits, '0') + ";" + padding_;
  std::string msg_id = "msg_fake_" + std::to_string(turn_no_);
  auto line = partial_ ? text_delta(session_id_, text) : assistant_text(session_id_, msg_id, text);
  auto pos = line.find("t=0000");
  char digits[stamp_digits + 1];
  std::snprintf(digits, sizeof(digits), "%019lld", static_cast<long long>(monotonic_ns()));
  std::memcpy(line.data() + pos + 2, digits, stamp_digits);
  write_line(std::move(line));
  ++sent_;
}

void turn_emitter::interrupt() {
  if (!active_) return;
  write_line(interrupted_marker(session_id_));
  finish(true, 1);
}

void turn_emitter::finish(bool interrupted, int num_turns) {
  if (partial_ && !interrupted && num_turns > 0)
    write_line(assistant_text(session_id_, "msg_fake_" + std::to_string(turn_no_), "done"));
  turn_outcome o;
  o.interrupted = interrupted;
  o.num_turns = num_turns;
  o.events = sent_;
  o.duration_ms = (monotonic_ns() - started_ns_) / 1'000'000;
  write_line(result_line(session_id_, o));
  active_ = false;
}

}  // namespace bench::fake
