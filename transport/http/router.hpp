#pragma once

// Routes: method + path template with typed parameters.
//
// Template syntax: "/api/v1/sessions/{id:uuid}/events". A segment is a literal, `{name}` (any one
// non-empty segment) or `{name:uuid}` (a canonical 8-4-4-4-12 hex UUID, either case, stored in
// lower case). Matching rules, decided once for the whole API:
//   * exact on segments: no prefix matching; "/a/" is not "/a" (a trailing slash is an empty
//     segment, and no template has one: 404); "//" likewise never matches;
//   * each raw segment is percent-decoded before comparison; a malformed escape, an encoded '/'
//     (%2F), a NUL, or a "." / ".." segment makes the path unusable (400, never normalised);
//   * when several templates fit, the most specific wins (a literal beats a parameter at the
//     first segment where they differ); templates of the same shape cannot both be added;
//   * the method is compared exactly ("GET"; no implicit HEAD); a known path with another method
//     is 405 with `Allow`;
//   * `{name:uuid}` parameters are validated after the route is chosen and before any handler
//     runs: a malformed one yields 422 with one field error per bad parameter.

#include "transport/http/error_catalog.hpp"
#include "transport/http/types.hpp"

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace caa::http {

/// One registered route, as listed by `router::routes()`.
struct route_info {
  std::string method;         ///< e.g. "GET"
  std::string path_template;  ///< e.g. "/api/v1/sessions/{id:uuid}"
  route_policy policy;        ///< who may call it
  route_class cls;            ///< which body limit and rate-limit bucket applies
};

/// The outcome of matching one request.
enum class match_status : uint8_t {
  matched,             ///< `route`, `target` and `params` are set
  not_found,           ///< no template fits the path (404)
  method_not_allowed,  ///< a template fits, not with this method; `allow` is set (405)
  bad_path,            ///< the path is not a usable origin-form path (400)
  invalid_params,      ///< the route fits but parameters are invalid; `errors` is set (422)
};

/// The result of `router::match`.
struct route_match {
  match_status status = match_status::not_found;
  const route_info* route = nullptr;          ///< set for `matched` and `invalid_params`
  const handler* target = nullptr;            ///< set for `matched`
  std::map<std::string, std::string> params;  ///< validated parameters
  std::string allow;                          ///< methods of the fitting template, "GET, POST"
  std::vector<field_error> errors;            ///< one per invalid parameter
};

/// Maps (method, path) to a handler. Built once at start-up, then read concurrently.
class router {
 public:
  /// An empty router.
  router();
  ~router();
  /// Routers move (into the server); they are not copied.
  router(router&&) noexcept;
  /// Moves `other` in.
  router& operator=(router&&) noexcept;

  /// Adds a route; `policy` is mandatory. Throws `std::invalid_argument` for a malformed template,
  /// a method that is not an upper-case token, or a duplicate or ambiguous route.
  void add(std::string method, std::string path_template, route_policy policy, route_class cls,
           handler h);

  /// Matches a raw origin-form path (no query string, not yet decoded).
  route_match match(std::string_view method, std::string_view raw_path) const;

  /// Every route: grouped by template, templates in order of first registration.
  std::vector<route_info> routes() const;

 private:
  struct path_entry;
  std::vector<path_entry> paths_;
};

}  // namespace caa::http
