#pragma once

#include "ids.hpp"
#include "request_log.hpp"
#include "sse.hpp"

#include <chrono>
#include <string>
#include <vector>

namespace scripted_model {

/// A request as the router sees it, independent of the HTTP library.
struct incoming_request {
  /// HTTP method.
  std::string method;
  /// The request target: path and query string.
  std::string target;
  /// Header name/value pairs in arrival order (names lower-cased).
  std::vector<std::pair<std::string, std::string>> headers;
  /// The body.
  std::string body;
};

/// What to send back: a complete body, or an SSE stream sent as HTTP chunks.
struct response_plan {
  /// HTTP status.
  unsigned status = 200;
  /// Content-Type of the response.
  std::string content_type = "application/json";
  /// The body of a complete response.
  std::string body;
  /// True for an SSE stream made of `events`.
  bool streamed = false;
  /// The events of a stream, in order, each with the pause before it.
  std::vector<sse_event> events;
  /// Pause before the response starts (`--delay-ms`, model routes only).
  std::chrono::milliseconds delay{0};
  /// The `request-id` header value (model routes only).
  std::string request_id;
};

/// Maps requests to responses: the fake Messages API plus the `/_log` test routes.
/// Thread-safe; shared by all connections.
class router {
 public:
  /// A router recording into `log` that delays model responses by `delay`.
  router(request_log& log, std::chrono::milliseconds delay);

  /// Records `req` (except `/_log` calls) and computes its response.
  response_plan handle(const incoming_request& req);

 private:
  response_plan messages(const std::string& body);
  response_plan count_tokens(const std::string& body);
  response_plan log_route(const std::string& method);

  request_log& log_;
  id_source ids_;
  std::chrono::milliseconds delay_;
};

/// A complete JSON response.
response_plan json_response(unsigned status, std::string body);

/// A rough input token estimate for a request body (4 bytes a token, capped at 100000 so the
/// CLI never auto-compacts by accident).
std::size_t estimate_input_tokens(std::size_t body_bytes);

}  // namespace scripted_model
