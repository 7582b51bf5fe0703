#pragma once

// A strict reader of the Prometheus text format 0.0.4 for tests: it parses an exposition into
// samples and lists every way it breaks the format (HELP/TYPE order, names, label syntax and
// escapes, values, duplicate series, histogram buckets not cumulative or without +Inf/_count).

#include <cmath>
#include <cstdlib>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace caa::test {

/// One sample line.
struct prom_sample {
  std::string name;
  std::map<std::string, std::string> labels;  ///< unescaped values
  double value = 0;
};

/// A parsed exposition.
struct prom_exposition {
  std::map<std::string, std::string> types;  ///< family name -> type
  std::map<std::string, std::string> help;   ///< family name -> unescaped help
  std::vector<prom_sample> samples;
  std::vector<std::string> errors;  ///< empty when the text is valid

  /// The value of the sample `name` whose labels include `labels`; nothing when none or several.
  std::optional<double> value(const std::string& name,
                              const std::map<std::string, std::string>& labels = {}) const {
    std::optional<double> out;
    for (const auto& s : samples) {
      if (s.name != name) continue;
      bool fits = true;
      for (const auto& [k, v] : labels) {
        auto it = s.labels.find(k);
        fits = fits && it != s.labels.end() && it->second == v;
      }
      if (!fits) continue;
      if (out) return std::nullopt;
      out = s.value;
    }
    return out;
  }
};

namespace detail {

inline bool is_name_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
}

inline bool is_name_char(char c) {
  return is_name_start(c) || (c >= '0' && c <= '9');
}

/// Reads a metric or label name at `i`; empty when there is none.
inline std::string read_name(const std::string& line, std::size_t& i, bool label) {
  std::size_t start = i;
  if (i < line.size() && is_name_start(line[i]) && !(label && line[i] == ':'))
    ++i;
  else
    return {};
  while (i < line.size() && is_name_char(line[i]) && !(label && line[i] == ':')) ++i;
  return line.substr(start, i - start);
}

/// Parses a sample value ("+Inf", "-Inf", "NaN" or a float).
inline std::optional<double> read_value(const std::string& x) {
  if (x == "+Inf") return HUGE_VAL;
  if (x == "-Inf") return -HUGE_VAL;
  if (x == "NaN") return NAN;
  if (x.empty()) return std::nullopt;
  char* end = nullptr;
  double v = std::strtod(x.c_str(), &end);
  if (end != x.c_str() + x.size()) return std::nullopt;
  return v;
}

/// Parses `{a="x",b="y"}` at `i` into `out`; false on a syntax error.
inline bool read_labels(const std::string& line, std::size_t& i,
                        std::map<std::string, std::string>& out) {
  ++i;  // '{'
  while (i < line.size() && line[i] != '}') {
    auto name = read_name(line, i, true);
    if (name.empty() || i + 1 >= line.size() || line[i] != '=' || line[i + 1] != '"') return false;
    i += 2;
    std::string value;
    while (i < line.size() && line[i] != '"') {
      if (line[i] == '\\') {
        if (++i >= line.size()) return false;
        if (line[i] == 'n')
          value += '\n';
        else if (line[i] == '\\' || line[i] == '"')
          value += line[i];
        else
          return false;
      } else {
        value += line[i];
      }
      ++i;
    }
    if (i >= line.size() || !out.emplace(name, value).second) return false;
    ++i;  // closing quote
    if (i < line.size() && line[i] == ',')
      ++i;
    else if (i < line.size() && line[i] != '}')
      return false;
  }
  if (i >= line.size()) return false;
  ++i;  // '}'
  return true;
}

/// Unescapes a HELP text (\\ and \n); false on another escape.
inline bool unescape_help(const std::string& x, std::string& out) {
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (x[i] != '\\') {
      out += x[i];
      continue;
    }
    if (++i >= x.size()) return false;
    if (x[i] == 'n')
      out += '\n';
    else if (x[i] == '\\')
      out += '\\';
    else
      return false;
  }
  return true;
}

/// Checks the histogram buckets of one family: cumulative, ascending, +Inf last = _count.
inline void check_histogram(const std::string& family, prom_exposition& e) {
  std::map<std::map<std::string, std::string>, std::vector<std::pair<double, double>>> buckets;
  std::map<std::map<std::string, std::string>, double> counts;
  for (const auto& s : e.samples) {
    auto labels = s.labels;
    if (s.name == family + "_bucket") {
      auto le = labels.find("le");
      if (le == labels.end()) {
        e.errors.push_back(family + ": a bucket without le");
        continue;
      }
      auto bound = read_value(le->second);
      labels.erase(le);
      if (!bound)
        e.errors.push_back(family + ": bad le");
      else
        buckets[labels].emplace_back(*bound, s.value);
    } else if (s.name == family + "_count") {
      counts[labels] = s.value;
    }
  }
  for (const auto& [labels, list] : buckets) {
    for (std::size_t i = 1; i < list.size(); ++i)
      if (!(list[i].first > list[i - 1].first) || list[i].second < list[i - 1].second)
        e.errors.push_back(family + ": buckets not ascending or not cumulative");
    if (list.empty() || !std::isinf(list.back().first))
      e.errors.push_back(family + ": no +Inf bucket");
    else if (!counts.count(labels) || counts[labels] != list.back().second)
      e.errors.push_back(family + ": _count differs from the +Inf bucket");
  }
}

}  // namespace detail

/// Parses and checks `text`.
inline prom_exposition parse_exposition(const std::string& text) {
  prom_exposition e;
  std::string family;  // the family of the last TYPE line
  std::set<std::string> series;
  auto fail = [&](const std::string& line, const std::string& why) {
    e.errors.push_back(why + ": " + line);
  };
  if (!text.empty() && text.back() != '\n') e.errors.push_back("the text does not end in \\n");
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto nl = text.find('\n', pos);
    auto line = text.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    pos = nl == std::string::npos ? text.size() : nl + 1;
    if (line.rfind("# HELP ", 0) == 0) {
      std::size_t i = 7;
      auto name = detail::read_name(line, i, false);
      std::string help;
      if (name.empty() || i >= line.size() || line[i] != ' ' ||
          !detail::unescape_help(line.substr(i + 1), help))
        fail(line, "bad HELP line");
      else if (e.help.count(name) || e.types.count(name))
        fail(line, "HELP after the family started");
      else
        e.help[name] = help;
    } else if (line.rfind("# TYPE ", 0) == 0) {
      std::size_t i = 7;
      auto name = detail::read_name(line, i, false);
      auto type = i < line.size() ? line.substr(i + 1) : "";
      static const std::set<std::string> types{"counter", "gauge", "histogram", "summary",
                                               "untyped"};
      if (name.empty() || !types.count(type))
        fail(line, "bad TYPE line");
      else if (!e.types.emplace(name, type).second)
        fail(line, "family declared twice");
      family = name;
    } else if (line.empty() || line[0] == '#') {
      fail(line, "unexpected line");
    } else {
      prom_sample s;
      std::size_t i = 0;
      s.name = detail::read_name(line, i, false);
      if (s.name.empty()) {
        fail(line, "bad metric name");
        continue;
      }
      if (i < line.size() && line[i] == '{' && !detail::read_labels(line, i, s.labels)) {
        fail(line, "bad labels");
        continue;
      }
      auto value =
          i < line.size() && line[i] == ' ' ? detail::read_value(line.substr(i + 1)) : std::nullopt;
      if (!value) {
        fail(line, "bad value");
        continue;
      }
      s.value = *value;
      auto type = e.types.count(family) ? e.types[family] : "";
      bool ok = s.name == family ||
                (type == "histogram" && (s.name == family + "_bucket" ||
                                         s.name == family + "_sum" || s.name == family + "_count"));
      if (!ok) fail(line, "sample outside its family");
      std::string key = s.name;
      for (const auto& [k, v] : s.labels) key += "|" + k + "=" + v;
      if (!series.insert(key).second) fail(line, "duplicate series");
      e.samples.push_back(std::move(s));
    }
  }
  for (const auto& [name, type] : e.types) {
    if (!e.help.count(name)) e.errors.push_back(name + ": no HELP");
    if (type == "histogram") detail::check_histogram(name, e);
  }
  return e;
}

}  // namespace caa::test
