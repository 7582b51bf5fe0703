#pragma once

// The figures of a CLI `result` line that reach stored totals (cost, usage, model). A tenant's
// tools can write to the CLI's stdout, so these lines are the tenant's input, not ours: only
// finite, non-negative, bounded numbers and a short model name are kept.

#include <optional>
#include <string>
#include <string_view>

namespace caa::claude {

/// What a `result` line may contribute to a turn's row.
struct result_figures {
  std::optional<double> cost_usd;    ///< total_cost_usd, if finite and in [0, max_turn_cost_usd]
  std::optional<std::string> usage;  ///< usage, rebuilt from its valid counters (JSON object)
  std::optional<std::string> model;  ///< the first model_usage key, if a plausible model name
};

/// The highest cost one turn may report (USD); anything above is not believed.
inline constexpr double max_turn_cost_usd = 1e6;
/// The highest token counter one turn may report.
inline constexpr double max_turn_tokens = 1e12;

/// Reads the figures of the `result` line `line` (invalid JSON: none).
result_figures read_result_figures(std::string_view line);

}  // namespace caa::claude
