#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace scripted_model {

/// A scenario directive found in a prompt: `[[name args...]]` or `[[scenario:name args...]]`.
struct directive {
  /// The scenario name, lower-cased (`bash`, `write`, ...).
  std::string name;
  /// Everything after the name up to the closing brackets, trimmed.
  std::string args;
  /// Offset of the opening `[[` in the searched text.
  std::size_t begin = 0;
  /// Offset one past the closing `]]`.
  std::size_t end = 0;
};

/// The first directive in `text`, if any. Brackets nest, so `[[bash [[ -f x ]] && echo y]]`
/// is one directive whose args are `[[ -f x ]] && echo y`.
std::optional<directive> find_directive(std::string_view text);

/// `text` with the directive cut out, trimmed.
std::string strip_directive(std::string_view text, const directive& d);

/// Splits `args` at the first run of whitespace: {first word, rest}.
std::pair<std::string, std::string> split_first_word(std::string_view args);

/// Splits `args` into whitespace-separated words.
std::vector<std::string> split_words(std::string_view args);

/// Parses a non-negative integer; nullopt unless all of `s` is digits and it fits.
std::optional<unsigned long> parse_count(std::string_view s);

/// `s` without leading and trailing whitespace.
std::string trim(std::string_view s);

}  // namespace scripted_model
