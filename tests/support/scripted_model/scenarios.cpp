#include "scenarios.hpp"

#include "json.hpp"
#include "tool_scenarios.hpp"

#include <algorithm>
#include <functional>
#include <map>

namespace scripted_model {

namespace {

constexpr unsigned long max_slow_chunks = 100000;
constexpr unsigned long max_slow_delay_ms = 600000;
constexpr unsigned long max_large_bytes = 256UL << 20;

reply usage_error(const directive& d, std::string_view usage) {
  return text_reply("Scenario '" + d.name + "' needs arguments: " + std::string(usage));
}

reply play_echo(const conversation& c, const directive& d) {
  auto text = strip_directive(c.prompt, d);
  return text_reply(text.empty() ? c.prompt : text);
}

reply play_slow(const conversation&, const directive& d) {
  const auto words = split_words(d.args);
  const auto n = words.size() == 2 ? parse_count(words[0]) : std::nullopt;
  const auto ms = words.size() == 2 ? parse_count(words[1]) : std::nullopt;
  if (!n || !ms || *n == 0 || *n > max_slow_chunks || *ms > max_slow_delay_ms)
    return usage_error(d, "slow CHUNKS MILLISECONDS");
  content_block block;
  for (unsigned long i = 0; i < *n; ++i) block.deltas.push_back("chunk" + std::to_string(i) + " ");
  reply r;
  r.blocks.push_back(std::move(block));
  r.delta_delay = std::chrono::milliseconds(*ms);
  return r;
}

reply play_error(const conversation&, const directive& d) {
  const auto status = parse_count(trim(d.args));
  if (!status || *status < 400 || *status > 599) return usage_error(d, "error STATUS (400..599)");
  return error_reply(static_cast<unsigned>(*status),
                     "Scripted error " + std::to_string(*status) + ".");
}

/// About `bytes` bytes of text: lines of 99 letters and a newline.
std::string large_text(std::size_t bytes) {
  std::string text;
  text.reserve(bytes);
  for (std::size_t i = 0; i < bytes; ++i)
    text += (i % 100 == 99) ? '\n' : static_cast<char>('a' + (i / 100) % 26);
  return text;
}

reply play_large(const conversation&, const directive& d) {
  const auto bytes = parse_count(trim(d.args));
  if (!bytes || *bytes == 0 || *bytes > max_large_bytes)
    return usage_error(d, "large BYTES (1.." + std::to_string(max_large_bytes) + ")");
  return text_reply(large_text(*bytes), 4);
}

using scenario_fn = std::function<reply(const conversation&, const directive&)>;

const std::map<std::string, scenario_fn, std::less<>>& scenario_table() {
  static const std::map<std::string, scenario_fn, std::less<>> table{
      {"echo", play_echo},
      {"slow", play_slow},
      {"error", play_error},
      {"large", play_large},
      {"bash", play_bash},
      {"chain", play_chain},
      {"write", play_write},
      {"read", play_read},
      {"ask", play_ask},
      {"todo", play_todo},
      {"task", play_task},
      {"agent", play_task},
      {"structured", play_structured},
      {"tool", play_tool},
  };
  return table;
}

}  // namespace

reply play(const conversation& c) {
  return play(c, find_directive(c.prompt));
}

reply play(const conversation& c, const std::optional<directive>& d) {
  if (is_side_request(c) || !d) return text_reply(is_side_request(c) ? side_text : default_text);
  const auto& table = scenario_table();
  const auto it = table.find(d->name);
  if (it == table.end()) return text_reply("Unknown scenario: " + d->name);
  return it->second(c, *d);
}

}  // namespace scripted_model
