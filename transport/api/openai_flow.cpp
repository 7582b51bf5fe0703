#include "transport/api/openai_flow.hpp"

#include "transport/http/openai_error.hpp"

#include <chrono>

namespace caa::api::detail {

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string hex_of(std::string_view uuid) {
  std::string out;
  for (char c : uuid)
    if (c != '-') out += c;
  return out;
}

void send_error(const res_ptr& res, const openai::request_error& e) {
  res->send(json_body(e.status, http::openai_error_body(e.message, e.type, e.code, e.param)));
}

std::string sse_data(std::string_view json) {
  std::string out = "data: ";
  out += json;
  out += "\n\n";
  return out;
}

std::shared_ptr<rendering_stream_sink> open_stream(const session_api& api, const req_ptr& req,
                                                   const res_ptr& res, render_fn render) {
  auto stream = res->stream(200, "text/event-stream", sse_headers());
  if (!stream->open()) return nullptr;  // the client is gone; the turn runs on
  auto sink = std::make_shared<rendering_stream_sink>(std::move(stream), std::move(render));
  watch_stream(api, req->caller->key_id(), sink);
  return sink;
}
}  // namespace caa::api::detail
