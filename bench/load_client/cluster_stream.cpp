// One SSE stream of a cluster run (`--ports`). Each stream opens its session with its first turn
// on the node `plan_of` names, which owns it from then on; its warm turns are read from the
// front node of `plan_of`: the owner for half of the streams (local), another node for the other
// half (forwarded). Two ways to reach a non-owner (`--forward`):
//   turn    the warm turn is posted to the front node (`POST /api/v1/query` with `session_id`),
//           which forwards it to the owner over the cluster link and relays the events;
//   attach  the warm turn is posted to the owner, and the client reads its events through an SSE
//           attach (`GET /api/v1/sessions/{id}/events`, `Last-Event-ID`) on the front node, held
//           open over the warm turns; the owner's own response is read and discarded. Local
//           streams do the same with the attach on the owner, so both paths cost the client and
//           the owner the same work and differ only by the cluster link.
// Failures of warm turns are recorded by path (a node that does not forward turns yet answers
// them with an error status); they end the stream, not the run.

#include "bench/load_client/turn_io.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>

#include <chrono>
#include <optional>

namespace bench::load {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;

namespace {

/// A keep-alive connection to one node, opened on first use.
struct node_conn {
  explicit node_conn(const asio::any_io_executor& exec) : stream{exec} {}

  beast::tcp_stream stream;
  beast::flat_buffer buf;
  bool connected = false;

  /// Connects unless connected; false (recorded through `reader`) when that fails.
  asio::awaitable<bool> ensure(const options& o, unsigned short port, turn_reader& reader) {
    if (connected) co_return true;
    stream.expires_after(timeout_of(o));
    auto [ec] = co_await stream.async_connect({asio::ip::make_address(o.host), port}, use_tuple);
    if (ec) {
      reader.fail("connect");
      co_return false;
    }
    stream.socket().set_option(tcp::no_delay(true));
    buf.clear();
    connected = true;
    co_return true;
  }

  void close() {
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream.close();
    connected = false;
  }
};

/// Posts one turn on `conn` and reads its response into `reader` (which finishes the turn);
/// false when it failed.
asio::awaitable<bool> post_turn(const options& o, recorder& rec, node_conn& conn,
                                unsigned short port, const std::string& session_id,
                                turn_reader& reader) {
  if (!co_await conn.ensure(o, port, reader)) co_return false;
  auto req = turn_request(o, session_id);
  auto [wec, wn] = co_await http::async_write(conn.stream, req, use_tuple);
  if (wec) {
    reader.fail("write");
    conn.close();
    co_return false;
  }
  auto end = co_await read_turn(conn.stream, conn.buf, reader, rec, o);
  if (end != turn_end::keep_alive) conn.close();
  co_return end != turn_end::failed;
}

/// An SSE attach to one session on one node, held over several turns.
struct attach_conn {
  explicit attach_conn(const asio::any_io_executor& exec) : conn{exec} {
    parser.body_limit(boost::none);
  }

  node_conn conn;
  http::response_parser<http::buffer_body> parser;
  std::vector<char> tmp = std::vector<char>(16384);
  bool cancelled = false;  ///< the turn's post failed: the read was cancelled, not the stream

  /// Opens the stream of `session_id` after event `last_id`; false (recorded) when refused.
  asio::awaitable<bool> open(const options& o, recorder& rec, unsigned short port,
                             const std::string& session_id, const std::string& last_id,
                             turn_reader& reader) {
    if (!co_await conn.ensure(o, port, reader)) co_return false;
    http::request<http::empty_body> req{http::verb::get,
                                        "/api/v1/sessions/" + session_id + "/events", 11};
    req.set(http::field::host, o.host);
    req.set(http::field::accept, "text/event-stream");
    req.set("X-API-Key", o.key);
    req.set("Last-Event-ID", last_id.empty() ? "0" : last_id);
    auto [wec, wn] = co_await http::async_write(conn.stream, req, use_tuple);
    if (wec) {
      reader.fail("attach_write");
      co_return false;
    }
    conn.stream.expires_after(timeout_of(o));
    auto [ec, n] = co_await http::async_read_header(conn.stream, conn.buf, parser, use_tuple);
    if (ec) {
      reader.fail("attach_header");
      co_return false;
    }
    if (parser.get().result_int() != 200) {
      co_await refused(conn.stream, conn.buf, parser, reader, rec);
      co_return false;
    }
    co_return true;
  }

  /// Reads the stream into `reader` up to the end of the turn's `done`; false when it failed.
  asio::awaitable<bool> read_turn_events(const options& o, turn_reader& reader) {
    while (!reader.complete()) {
      if (parser.is_done()) {
        reader.fail("attach_ended");
        co_return false;
      }
      parser.get().body().data = tmp.data();
      parser.get().body().size = tmp.size();
      conn.stream.expires_after(timeout_of(o));
      auto [ec, got] = co_await http::async_read_some(conn.stream, conn.buf, parser, use_tuple);
      auto arrival = now_ns();
      if (ec && ec != http::error::need_buffer) {
        if (!cancelled) reader.fail(ec == beast::error::timeout ? "timeout" : "attach_read");
        co_return false;
      }
      reader.feed_sse({tmp.data(), tmp.size() - parser.get().body().size}, arrival);
    }
    if (reader.saw_error) {
      reader.fail("error_event");
      co_return false;
    }
    co_return true;
  }
};

/// One warm turn of `--forward attach`: posted to the owner on `owner`, its events read from
/// `attach`; false when it failed (the post's failure cancels the read).
asio::awaitable<bool> attached_turn(const options& o, recorder& rec, node_conn& owner,
                                    unsigned short owner_port, attach_conn& attach,
                                    const std::string& session_id, path p) {
  auto sent = now_ns();
  turn_reader posted{rec, sent, true, p, false};
  turn_reader read{rec, sent, true, p, true};
  auto post = [&]() -> asio::awaitable<bool> {
    bool ok = co_await post_turn(o, rec, owner, owner_port, session_id, posted);
    if (!ok) {
      attach.cancelled = true;
      attach.conn.stream.cancel();
    }
    co_return ok;
  };
  auto [post_ok, read_ok] = co_await (post() && attach.read_turn_events(o, read));
  if (post_ok && read_ok) read.finish(now_ns());
  co_return post_ok&& read_ok;
}

}  // namespace

asio::awaitable<void> cluster_stream(const options& o, recorder& rec, int index) {
  auto exec = co_await asio::this_coro::executor;
  auto plan = plan_of(index, static_cast<int>(o.ports.size()));
  auto owner_port = o.ports[static_cast<size_t>(plan.owner)];
  auto front_port = o.ports[static_cast<size_t>(plan.front)];
  node_conn owner{exec};
  ++rec.active;
  // The first turn opens the session on its owner.
  turn_reader cold{rec, now_ns(), false};
  bool ok = co_await post_turn(o, rec, owner, owner_port, "", cold);
  std::string session_id = cold.session_id;
  if (ok && session_id.empty()) {
    cold.fail("no_session_id");
    ok = false;
  }
  if (ok && o.forward == "turn") {
    std::optional<node_conn> other;
    if (plan.front != plan.owner) other.emplace(exec);
    node_conn& front = other ? *other : owner;
    for (int turn = 1; turn < o.turns; ++turn) {
      turn_reader warm{rec, now_ns(), true, plan.warm};
      if (!co_await post_turn(o, rec, front, front_port, session_id, warm)) break;
    }
  } else if (ok && o.turns > 1) {
    attach_conn attach{exec};
    turn_reader opening{rec, now_ns(), true, plan.warm, false};
    if (co_await attach.open(o, rec, front_port, session_id, cold.last_id, opening)) {
      // Subscribed before the first event of the next turn (the fake CLI writes its first
      // event at once): otherwise its first events would come from the replay of stored ones.
      asio::steady_timer settle{exec};
      settle.expires_after(std::chrono::milliseconds{o.settle_ms});
      co_await settle.async_wait(use_tuple);
      for (int turn = 1; turn < o.turns; ++turn)
        if (!co_await attached_turn(o, rec, owner, owner_port, attach, session_id, plan.warm))
          break;
    }
    attach.conn.close();
  }
  owner.close();
  --rec.active;
}

}  // namespace bench::load
