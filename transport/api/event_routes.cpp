// `GET /api/v1/sessions/{id}/events`: the stored history of a session as JSON pages (`after`,
// `limit`), or, with `Accept: text/event-stream`, an attached stream: every stored event after
// `Last-Event-ID` (or `after`) replayed from PostgreSQL, then the live events of the session,
// turn after turn, until the client leaves (the edge sends the keep-alive comments).

#include "transport/api/responses.hpp"
#include "transport/api/session_flow.hpp"
#include "transport/api/session_json.hpp"
#include "transport/api/sse_sink.hpp"

#include <charconv>
#include <limits>

namespace caa::api::detail {

namespace {

using req_ptr = std::shared_ptr<http::request>;
using res_ptr = std::shared_ptr<http::responder>;

/// The largest event id a client may name.
constexpr long long max_event_id = std::numeric_limits<int64_t>::max();

/// Events read for the first page of an attached stream.
constexpr unsigned first_replay_page = 200;

bool wants_stream(const http::request& req) {
  auto accept = req.header("accept");
  return accept && accept->find("text/event-stream") != std::string::npos;
}

/// The `Last-Event-ID` header as a seq, if present; a malformed one adds a field error.
std::optional<uint64_t> last_event_id(const http::request& req,
                                      std::vector<caa::field_error>& errors) {
  auto text = req.header("last-event-id");
  if (!text) return std::nullopt;
  uint64_t value = 0;
  auto* end = text->data() + text->size();
  auto [ptr, ec] = std::from_chars(text->data(), end, value);
  if (ec != std::errc{} || ptr != end || value > static_cast<uint64_t>(max_event_id)) {
    errors.push_back({"Last-Event-ID", "must be an event id (a non-negative integer)"});
    return std::nullopt;
  }
  return value;
}

void attach(const session_api_ptr& api, const req_ptr& req, const res_ptr& res, uint64_t after) {
  auto tenant = req->caller->tenant_id();
  auto id = req->params.at("id");
  // The first page proves the session is the caller's before any stream byte is sent.
  api->sessions.read_events(
      tenant, id, after, first_replay_page,
      [api, req, res, tenant, id, after](const storage::event_page& page) {
        auto stream = res->stream(200, "text/event-stream", sse_headers());
        if (!stream->open()) return;
        auto sink = std::make_shared<sse_event_sink>(std::move(stream), false);
        watch_stream(*api, req->caller->key_id(), sink);
        catch_up_when_lagged(api, tenant, id, sink);
        uint64_t last = after;
        if (!deliver_gap(*sink, last, page)) return;  // refused: the stream is closed
        for (auto& e : page.events) {
          if (!sink->deliver(e.seq, e.type, e.payload_json))
            return;  // refused: the stream is closed, the client reconnects
          last = e.seq;
        }
        replay_and_subscribe(api, tenant, id, std::move(sink), last, session_actor{});
      },
      [res](caf::error e) { res->fail(std::move(e)); });
}

void list_events(const session_api_ptr& api, const req_ptr& req, const res_ptr& res) {
  std::vector<caa::field_error> errors;
  auto after = query_int(*req, "after", 0, 0, max_event_id, errors);
  auto limit = query_int(*req, "limit", 100, 1, storage::max_event_page, errors);
  bool stream = wants_stream(*req);
  std::optional<uint64_t> resume_from;
  if (stream) resume_from = last_event_id(*req, errors);
  if (!errors.empty()) {
    res->fail(caa::validation_error(std::move(errors)));
    return;
  }
  if (stream) {
    attach(api, req, res, resume_from.value_or(static_cast<uint64_t>(after)));
    return;
  }
  auto from = static_cast<uint64_t>(after);
  api->sessions.read_events(
      req->caller->tenant_id(), req->params.at("id"), from, static_cast<unsigned>(limit),
      [res, from](const storage::event_page& page) {
        http::response out;
        out.body = event_page_json(page, from);
        res->send(std::move(out));
      },
      [res](caf::error e) { res->fail(std::move(e)); });
}

}  // namespace

void add_event_routes(http::router& r, const session_api_ptr& api) {
  r.add("GET", "/api/v1/sessions/{id:uuid}/events", http::route_policy::requires_agent,
        http::route_class::general,
        [api](const req_ptr& req, const res_ptr& res) { list_events(api, req, res); });
}

}  // namespace caa::api::detail
