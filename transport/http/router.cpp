#include "transport/http/router.hpp"

#include "config/uuid.hpp"

#include "transport/http/uri.hpp"

#include <algorithm>
#include <cctype>
#include <optional>
#include <stdexcept>

namespace caa::http {

namespace {

/// One segment of a path template.
struct segment {
  enum kind_t : uint8_t { literal, any, uuid } kind = literal;
  std::string text;  ///< the literal, or the parameter name
};

/// Throws `std::invalid_argument` naming the offending template.
[[noreturn]] void bad_template(std::string_view tpl, std::string_view why) {
  throw std::invalid_argument("route template '" + std::string{tpl} + "': " + std::string{why});
}

/// Whether `c` may appear unescaped in a literal template segment (RFC 3986 pchar, no '%').
bool is_literal_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) ||
         std::string_view{"-._~!$&'()*+,;=:@"}.find(c) != std::string_view::npos;
}

/// Parses `{name}` or `{name:uuid}`.
segment parse_param(std::string_view tpl, std::string_view s) {
  auto body = s.substr(1, s.size() - 2);
  auto colon = body.find(':');
  segment out{segment::any, std::string{body.substr(0, colon)}};
  if (colon != std::string_view::npos) {
    if (body.substr(colon + 1) != "uuid") bad_template(tpl, "unknown parameter kind");
    out.kind = segment::uuid;
  }
  auto name_ok = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  };
  if (out.text.empty() || !std::all_of(out.text.begin(), out.text.end(), name_ok))
    bad_template(tpl, "parameter names are [a-z0-9_]+");
  return out;
}

/// Parses a whole template into segments.
std::vector<segment> parse_template(std::string_view tpl) {
  if (tpl.empty() || tpl.front() != '/') bad_template(tpl, "must start with '/'");
  std::vector<segment> out;
  if (tpl == "/") return out;
  std::string_view rest = tpl.substr(1);
  while (true) {
    auto slash = rest.find('/');
    auto s = rest.substr(0, slash);
    if (s.empty()) bad_template(tpl, "empty segment");
    if (s.front() == '{' && s.back() == '}')
      out.push_back(parse_param(tpl, s));
    else if (std::all_of(s.begin(), s.end(), is_literal_char) && s != "." && s != "..")
      out.push_back({segment::literal, std::string{s}});
    else
      bad_template(tpl, "invalid literal segment");
    if (slash == std::string_view::npos) break;
    rest = rest.substr(slash + 1);
  }
  for (size_t i = 0; i < out.size(); ++i)
    for (size_t j = i + 1; j < out.size(); ++j)
      if (out[i].kind != segment::literal && out[j].kind != segment::literal &&
          out[i].text == out[j].text)
        bad_template(tpl, "duplicate parameter name");
  return out;
}

/// Splits and decodes a raw path; nothing when it is unusable.
std::optional<std::vector<std::string>> decode_path(std::string_view raw) {
  if (raw.empty() || raw.front() != '/') return std::nullopt;
  std::vector<std::string> out;
  if (raw == "/") return out;
  std::string_view rest = raw.substr(1);
  while (true) {
    auto slash = rest.find('/');
    auto seg = percent_decode(rest.substr(0, slash), decode_mode::path_segment);
    if (!seg || *seg == "." || *seg == "..") return std::nullopt;
    out.push_back(std::move(*seg));
    if (slash == std::string_view::npos) return out;
    rest = rest.substr(slash + 1);
  }
}

/// Whether `tpl` fits the decoded `path` (shape and literals; parameters not yet validated).
bool fits(const std::vector<segment>& tpl, const std::vector<std::string>& path) {
  if (tpl.size() != path.size()) return false;
  for (size_t i = 0; i < tpl.size(); ++i) {
    if (tpl[i].kind == segment::literal ? tpl[i].text != path[i] : path[i].empty()) return false;
  }
  return true;
}

/// Whether `a` is more specific than `b` (a literal first where they differ).
bool more_specific(const std::vector<segment>& a, const std::vector<segment>& b) {
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    bool la = a[i].kind == segment::literal;
    bool lb = b[i].kind == segment::literal;
    if (la != lb) return la;
  }
  return false;
}

/// Whether two templates have the same shape (same literals, parameters at the same places).
bool same_shape(const std::vector<segment>& a, const std::vector<segment>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    bool la = a[i].kind == segment::literal;
    if (la != (b[i].kind == segment::literal) || (la && a[i].text != b[i].text)) return false;
  }
  return true;
}

/// Whether `m` is an upper-case token such as "GET".
bool is_method_name(std::string_view m) {
  return !m.empty() && std::all_of(m.begin(), m.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
}

}  // namespace

/// All routes sharing one template.
struct router::path_entry {
  std::string path_template;
  std::vector<segment> segments;
  std::vector<std::pair<route_info, handler>> methods;
};

router::router() = default;
router::~router() = default;
router::router(router&&) noexcept = default;
router& router::operator=(router&&) noexcept = default;

void router::add(std::string method, std::string path_template, route_policy policy,
                 route_class cls, handler h) {
  if (!is_method_name(method))
    throw std::invalid_argument("route method '" + method + "' is not an upper-case token");
  if (!h) throw std::invalid_argument("route " + method + " " + path_template + " has no handler");
  auto segments = parse_template(path_template);
  auto i = std::find_if(paths_.begin(), paths_.end(),
                        [&](const path_entry& e) { return same_shape(e.segments, segments); });
  if (i != paths_.end() && i->path_template != path_template)
    bad_template(path_template, "ambiguous with '" + i->path_template + "'");
  if (i == paths_.end())
    i = paths_.insert(paths_.end(), path_entry{path_template, std::move(segments), {}});
  for (const auto& [info, _] : i->methods) {
    if (info.method != method) continue;
    std::string what = "duplicate route ";
    what.append(method).append(1, ' ').append(path_template);
    throw std::invalid_argument(what);
  }
  i->methods.emplace_back(route_info{std::move(method), std::move(path_template), policy, cls},
                          std::move(h));
}

route_match router::match(std::string_view method, std::string_view raw_path) const {
  route_match out;
  auto path = decode_path(raw_path);
  if (!path) {
    out.status = match_status::bad_path;
    return out;
  }
  const path_entry* best = nullptr;
  for (const auto& e : paths_)
    if (fits(e.segments, *path) && (!best || more_specific(e.segments, best->segments))) best = &e;
  if (!best) return out;  // not_found
  for (const auto& [info, h] : best->methods) {
    out.allow += out.allow.empty() ? "" : ", ";
    out.allow += info.method;
    if (info.method == method) {
      out.route = &info;
      out.target = &h;
    }
  }
  if (!out.route) {
    out.status = match_status::method_not_allowed;
    return out;
  }
  for (size_t i = 0; i < best->segments.size(); ++i) {
    const auto& seg = best->segments[i];
    auto value = (*path)[i];
    if (seg.kind == segment::uuid && !caa::is_uuid(value))
      out.errors.push_back({seg.text, "must be a UUID (8-4-4-4-12 hexadecimal digits)"});
    if (seg.kind == segment::uuid)
      std::transform(value.begin(), value.end(), value.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (seg.kind != segment::literal) out.params.emplace(seg.text, std::move(value));
  }
  out.status = out.errors.empty() ? match_status::matched : match_status::invalid_params;
  if (!out.errors.empty()) {
    out.target = nullptr;
    out.params.clear();
  }
  return out;
}

std::vector<route_info> router::routes() const {
  std::vector<route_info> out;
  for (const auto& e : paths_)
    for (const auto& [info, _] : e.methods) out.push_back(info);
  return out;
}

}  // namespace caa::http
