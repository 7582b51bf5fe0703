#pragma once

// A `byte_stream` backend over Beast's in-memory `test::stream`, so the HTTP session runs without
// sockets and `test::fail_count` can fail any of its reads and writes.
//
// Beast's test stream has no `cancel()`, and the session cancels a pending read (a header or body
// deadline, the end of a stream). So the backend keeps one read of its own in flight on the test
// stream into a buffer and serves the session's reads from that buffer: cancelling completes the
// session's read with `operation_aborted` and loses no byte, as with a socket. Writes go straight
// to the test stream. A half-close only makes later writes fail: Beast's stream cannot end one
// direction, so the peer sees the end of the connection when the session closes it.

#include "transport/http/byte_stream.hpp"

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/_experimental/test/error.hpp>
#include <boost/beast/_experimental/test/stream.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/flat_buffer.hpp>

#include <memory>
#include <optional>
#include <string>
#include <utility>

namespace caa::http::testing {

/// What a test learns about its stream after the session is gone.
struct stream_probe {
  /// The error the `fail_count` injects (Beast's default unless the test chose another).
  boost::system::error_code injected_code = boost::beast::test::error::test_failure;
  std::size_t operations = 0;  ///< reads and writes started on the test stream
  int injected_failures = 0;   ///< operations that completed with `injected_code`
  bool shut_send = false;      ///< the session half-closed (a closing response)
  bool closed = false;         ///< the session closed the stream
  int writes_after_close = 0;  ///< writes the session tried on the closed stream (a bug)
};

/// The backend; see the file comment.
class test_stream_backend final : public byte_stream::backend {
 public:
  /// A backend owning `s`; `probe` may be null. Every completion runs on a strand of the
  /// stream's executor (Beast's test stream with a fail count only takes an `io_context`).
  explicit test_stream_backend(boost::beast::test::stream s,
                               std::shared_ptr<stream_probe> probe = nullptr,
                               std::string address = "127.0.0.1")
      : st_(std::make_shared<state>(std::move(s), std::move(probe))),
        address_(std::move(address)) {}

  ~test_stream_backend() override { st_->stream.close(); }

  test_stream_backend(const test_stream_backend&) = delete;
  test_stream_backend& operator=(const test_stream_backend&) = delete;

  byte_stream::executor_type get_executor() override { return st_->strand; }

  void read_some(boost::asio::mutable_buffer b, byte_stream::io_handler h) override {
    st_->waiting.emplace(b, std::move(h));
    if (st_->closed) return complete_waiting(*st_, boost::asio::error::bad_descriptor);
    if (st_->in.size() > 0 || st_->error) return deliver(*st_);
    if (!st_->reading) start_read(st_);
  }

  void write_some(boost::asio::const_buffer b, byte_stream::io_handler h) override {
    if (st_->closed && st_->probe) ++st_->probe->writes_after_close;
    if (st_->closed || st_->shut_send) {
      auto ec = st_->closed ? boost::asio::error::bad_descriptor : boost::asio::error::broken_pipe;
      return post(*st_, std::move(h), ec, 0);
    }
    st_->started();
    auto ex = boost::asio::get_associated_executor(h, st_->strand);
    st_->stream.async_write_some(
        b, boost::asio::bind_executor(ex, [weak = std::weak_ptr<state>{st_}, h = std::move(h)](
                                              boost::system::error_code ec, std::size_t n) mutable {
          if (auto st = weak.lock()) st->note(ec);
          std::move(h)(ec, n);
        }));
  }

  void cancel() override { complete_waiting(*st_, boost::asio::error::operation_aborted); }

  void shutdown_send(boost::system::error_code& ec) override {
    ec = {};
    st_->shut_send = true;
    if (st_->probe) st_->probe->shut_send = true;
  }

  void close() override {
    if (st_->closed) return;
    st_->closed = true;
    if (st_->probe) st_->probe->closed = true;
    st_->stream.close();
    complete_waiting(*st_, boost::asio::error::operation_aborted);
  }

  std::string remote_address() const override { return address_; }

 private:
  /// Shared with the handler of the backend's own read, which may outlive the backend.
  struct state {
    state(boost::beast::test::stream s, std::shared_ptr<stream_probe> p)
        : stream(std::move(s)),
          strand(boost::asio::make_strand(stream.get_executor())),
          probe(std::move(p)) {}

    /// Counts one operation started on the stream.
    void started() const {
      if (probe) ++probe->operations;
    }

    /// Counts `ec` when it is a failure injected by the fail count.
    void note(boost::system::error_code ec) {
      if (probe && ec == probe->injected_code) ++probe->injected_failures;
    }

    boost::beast::test::stream stream;
    byte_stream::executor_type strand;  ///< of the connection: every completion runs on it
    std::shared_ptr<stream_probe> probe;
    boost::beast::flat_buffer in;     ///< read from the stream, not yet delivered
    boost::system::error_code error;  ///< the stream's read error, delivered after `in`
    bool reading = false;             ///< the backend's own read is in flight
    bool shut_send = false;           ///< writes fail from now on
    bool closed = false;
    std::optional<std::pair<boost::asio::mutable_buffer, byte_stream::io_handler>> waiting;
  };

  static void post(state& st, byte_stream::io_handler h, boost::system::error_code ec,
                   std::size_t n) {
    boost::asio::post(st.strand, boost::beast::bind_front_handler(std::move(h), ec, n));
  }

  static void complete_waiting(state& st, boost::system::error_code ec) {
    if (!st.waiting) return;
    auto h = std::move(st.waiting->second);
    st.waiting.reset();
    post(st, std::move(h), ec, 0);
  }

  /// Completes the session's read from the buffer, or with the stream's error once it is empty.
  static void deliver(state& st) {
    if (!st.waiting) return;
    auto [b, h] = std::move(*st.waiting);
    st.waiting.reset();
    if (st.in.size() == 0) return post(st, std::move(h), st.error, 0);
    auto n = boost::asio::buffer_copy(b, st.in.data());
    st.in.consume(n);
    post(st, std::move(h), {}, n);
  }

  static void start_read(const std::shared_ptr<state>& st) {
    st->reading = true;
    st->started();
    st->stream.async_read_some(
        st->in.prepare(4096),
        boost::asio::bind_executor(st->strand, [weak = std::weak_ptr<state>{st}](
                                                   boost::system::error_code ec, std::size_t n) {
          auto st = weak.lock();
          if (!st) return;
          st->reading = false;
          st->note(ec);
          st->in.commit(n);
          if (ec) st->error = ec;
          if (st->closed) return;
          deliver(*st);
        }));
  }

  std::shared_ptr<state> st_;
  std::string address_;
};

}  // namespace caa::http::testing
