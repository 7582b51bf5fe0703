#include "bench/load_client/turn_io.hpp"

#include <algorithm>
#include <chrono>

namespace bench::load {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

std::string json_quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace

http::request<http::string_body> turn_request(const options& o, const std::string& session_id) {
  http::request<http::string_body> req;
  req.method(http::verb::post);
  req.version(11);
  req.set(http::field::host, o.host);
  req.set(http::field::accept, "text/event-stream");
  auto prompt = prompt_text(o);
  if (o.target == "floor") {
    // `partial=1`: the floor starts its fake CLI with `--include-partial-messages`.
    req.target(o.partial ? "/turn?partial=1" : "/turn");
    req.body() = prompt;
  } else if (o.target == "proxy") {
    req.target("/v1/chat/completions");
    req.set(http::field::content_type, "application/json");
    req.body() = R"({"model":"sonnet","stream":true,"messages":[{"role":"user","content":)" +
                 json_quote(prompt) + "}]}";
  } else {
    req.target(o.target == "node" ? "/query" : "/api/v1/query");
    req.set(http::field::content_type, "application/json");
    if (!o.key.empty()) req.set("X-API-Key", o.key);
    req.body() = R"({"prompt":)" + json_quote(prompt);
    if (!session_id.empty()) req.body() += R"(,"session_id":)" + json_quote(session_id);
    // The same on every turn: a warm turn with the session's options keeps its process.
    if (o.partial) req.body() += R"(,"include_partial_messages":true)";
    if (!o.durability.empty()) req.body() += R"(,"durability":)" + json_quote(o.durability);
    req.body() += "}";
  }
  req.prepare_payload();
  return req;
}

asio::awaitable<void> drain(beast::tcp_stream& stream, beast::flat_buffer& buf,
                            http::response_parser<http::buffer_body>& p, std::string& body) {
  char tmp[4096];
  while (!p.is_done()) {
    p.get().body().data = tmp;
    p.get().body().size = sizeof(tmp);
    auto [ec, n] = co_await http::async_read_some(stream, buf, p, use_tuple);
    if (ec && ec != http::error::need_buffer) co_return;
    auto got = sizeof(tmp) - p.get().body().size;
    body.append(tmp, std::min(got, 4096 - std::min<size_t>(body.size(), 4096)));
  }
}

asio::awaitable<void> refused(beast::tcp_stream& stream, beast::flat_buffer& buf,
                              http::response_parser<http::buffer_body>& p, turn_reader& reader,
                              recorder& rec) {
  auto status = std::to_string(p.get().result_int());
  reader.fail(status);
  bool retry_after = p.get().find(http::field::retry_after) != p.get().end();
  std::string body;
  co_await drain(stream, buf, p, body);
  if (auto code = code_of(body); !code.empty()) ++rec.error_codes[status + " " + code];
  if (retry_after && (status == "429" || status == "503")) ++rec.retry_after;
}

asio::awaitable<turn_end> read_turn(beast::tcp_stream& stream, beast::flat_buffer& buf,
                                    turn_reader& reader, recorder& rec, const options& o) {
  http::response_parser<http::buffer_body> p;
  p.body_limit(boost::none);
  stream.expires_after(timeout_of(o));
  auto [ec, n] = co_await http::async_read_header(stream, buf, p, use_tuple);
  if (ec) {
    reader.fail(ec == beast::error::timeout ? "timeout" : "read_header");
    co_return turn_end::failed;
  }
  if (p.get().result_int() != 200) {
    co_await refused(stream, buf, p, reader, rec);
    co_return turn_end::failed;
  }
  // Per stream: a completed read's bytes must not be overwritten by another stream's read
  // before this coroutine resumes.
  std::vector<char> tmp(16384);
  while (!p.is_done()) {
    p.get().body().data = tmp.data();
    p.get().body().size = tmp.size();
    stream.expires_after(timeout_of(o));
    auto [rec_ec, got] = co_await http::async_read_some(stream, buf, p, use_tuple);
    auto arrival = now_ns();
    if (rec_ec && rec_ec != http::error::need_buffer) {
      reader.fail(rec_ec == beast::error::timeout ? "timeout" : "read_body");
      co_return turn_end::failed;
    }
    reader.feed_sse({tmp.data(), tmp.size() - p.get().body().size}, arrival);
  }
  if (reader.saw_error) {
    reader.fail("error_event");
    if (!reader.error_code.empty()) ++rec.error_codes["error_event " + reader.error_code];
    co_return turn_end::failed;
  }
  // The service ends a turn's stream after its `done`: a stream that ended before it was cut.
  if (o.target == "service" && !reader.saw_done) {
    reader.fail("cut");
    co_return turn_end::failed;
  }
  reader.finish(now_ns());
  co_return p.keep_alive() ? turn_end::keep_alive : turn_end::closed;
}

asio::awaitable<void> sse_stream(const options& o, recorder& rec, int index) {
  auto exec = co_await asio::this_coro::executor;
  tcp::endpoint ep{asio::ip::make_address(o.host), o.port};
  beast::tcp_stream stream{exec};
  beast::flat_buffer buf;
  bool connected = false;
  std::string session_id;
  ++rec.active;
  for (int turn = 0; turn < o.turns; ++turn) {
    if (!connected) {
      stream.expires_after(timeout_of(o));
      auto [ec] = co_await stream.async_connect(ep, use_tuple);
      if (ec) {
        rec.error("connect");
        break;
      }
      stream.socket().set_option(tcp::no_delay(true));
      buf.clear();
      connected = true;
    }
    auto req = turn_request(o, session_id);
    turn_reader reader{rec, now_ns(), turn > 0};
    auto [wec, wn] = co_await http::async_write(stream, req, use_tuple);
    if (wec) {
      rec.error("write");
      break;
    }
    auto end = co_await read_turn(stream, buf, reader, rec, o);
    if (end == turn_end::failed) break;  // recorded; a broken stream does not go on
    if (!reader.session_id.empty()) session_id = reader.session_id;
    if (end == turn_end::closed) {
      beast::error_code ignored;
      stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
      stream.close();
      connected = false;
      if (o.target == "floor") break;  // the floor's session is its connection
    }
  }
  --rec.active;
}

}  // namespace bench::load
