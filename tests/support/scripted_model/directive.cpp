#include "directive.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace scripted_model {

namespace {

bool is_space(char c) {
  return std::isspace(static_cast<unsigned char>(c)) != 0;
}

/// Offset just past the `]]` that closes the `[[` at `open`, or npos.
std::size_t closing_brackets(std::string_view text, std::size_t open) {
  int depth = 0;
  for (std::size_t i = open; i + 1 < text.size(); ++i) {
    if (text[i] == '[' && text[i + 1] == '[') {
      ++depth;
      ++i;
    } else if (text[i] == ']' && text[i + 1] == ']') {
      if (--depth == 0) return i + 2;
      ++i;
    }
  }
  return std::string_view::npos;
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

}  // namespace

std::string trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return std::string(s);
}

std::optional<directive> find_directive(std::string_view text) {
  const auto open = text.find("[[");
  if (open == std::string_view::npos) return std::nullopt;
  const auto close = closing_brackets(text, open);
  if (close == std::string_view::npos) return std::nullopt;
  std::string inner = trim(text.substr(open + 2, close - open - 4));
  if (inner.rfind("scenario:", 0) == 0) inner = trim(std::string_view(inner).substr(9));
  auto [name, args] = split_first_word(inner);
  if (name.empty()) return std::nullopt;
  return directive{lower(name), std::move(args), open, close};
}

std::string strip_directive(std::string_view text, const directive& d) {
  std::string out(text.substr(0, d.begin));
  out += text.substr(std::min(d.end, text.size()));
  return trim(out);
}

std::pair<std::string, std::string> split_first_word(std::string_view args) {
  const std::string s = trim(args);
  const auto space = std::find_if(s.begin(), s.end(), is_space);
  std::string rest = trim(std::string_view(s).substr(static_cast<std::size_t>(space - s.begin())));
  return {std::string(s.begin(), space), std::move(rest)};
}

std::vector<std::string> split_words(std::string_view args) {
  std::vector<std::string> words;
  std::string rest = trim(args);
  while (!rest.empty()) {
    auto [word, tail] = split_first_word(rest);
    words.push_back(std::move(word));
    rest = std::move(tail);
  }
  return words;
}

std::optional<unsigned long> parse_count(std::string_view s) {
  unsigned long value = 0;
  const auto* last = s.data() + s.size();
  auto [ptr, ec] = std::from_chars(s.data(), last, value);
  if (s.empty() || ec != std::errc{} || ptr != last) return std::nullopt;
  return value;
}

}  // namespace scripted_model
