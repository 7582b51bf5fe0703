#pragma once

// The byte stream under an HTTP connection: a TCP socket in production, an in-memory stream in
// tests. Internal to transport/http: include only from .cpp files (it pulls in Asio).
//
// Why type erasure and not a template parameter: `http_session` is split over four .cpp files and
// is heavy; making it a template would move all of it into headers (or need explicit
// instantiations of every member for every stream). A small virtual interface costs one indirect
// call and one handler allocation per read or write, next to a system call, and leaves the
// session's code as it was. The front below is an Asio AsyncReadStream and AsyncWriteStream, so
// `bhttp::async_read` and `net::async_write` compose over it unchanged.
//
// Completion: handlers travel as `net::any_completion_handler`, which keeps the handler's
// associated executor; a backend must complete through it (as Asio's own objects do), with the
// stream's executor — the connection's strand — as the fallback.

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <cstddef>
#include <memory>
#include <string>

namespace caa::http {

/// A connection's byte stream: reads, writes, cancellation and closing, whatever carries it.
class byte_stream {
 public:
  /// The executor of every operation: the connection's strand.
  using executor_type = boost::asio::any_io_executor;
  /// The completion handler of one read or write.
  using io_handler =
      boost::asio::any_completion_handler<void(boost::system::error_code, std::size_t)>;

  /// What carries the bytes. Every call happens on the stream's executor.
  class backend {
   public:
    virtual ~backend() = default;
    /// The executor handlers fall back to (the connection's strand).
    virtual executor_type get_executor() = 0;
    /// Reads at least one byte into `b` (or fails) and completes `h`.
    virtual void read_some(boost::asio::mutable_buffer b, io_handler h) = 0;
    /// Writes at least one byte of `b` (or fails) and completes `h`.
    virtual void write_some(boost::asio::const_buffer b, io_handler h) = 0;
    /// Completes pending operations with `operation_aborted`; unread bytes stay readable.
    virtual void cancel() = 0;
    /// Tells the peer that nothing more will be written; reading continues.
    virtual void shutdown_send(boost::system::error_code& ec) = 0;
    /// Shuts both directions and releases the stream; pending operations are aborted.
    virtual void close() = 0;
    /// The peer's address as text, or empty when unknown.
    virtual std::string remote_address() const = 0;
    /// The TCP socket, for a hand-over to another protocol (WebSocket), or null when the stream
    /// is not one.
    virtual boost::asio::ip::tcp::socket* socket() noexcept { return nullptr; }
  };

  /// A stream over `b` (not null).
  explicit byte_stream(std::unique_ptr<backend> b);
  /// A stream over a connected TCP socket (whose executor must be a strand).
  explicit byte_stream(boost::asio::ip::tcp::socket s);

  /// The connection's strand.
  executor_type get_executor() const noexcept { return exec_; }

  /// Asio's AsyncReadStream: reads into the first non-empty buffer of `buffers` (a read may
  /// always fill less than offered).
  template <class MutableBufferSequence, class ReadToken>
  auto async_read_some(const MutableBufferSequence& buffers, ReadToken&& token) {
    return boost::asio::async_initiate<ReadToken, void(boost::system::error_code, std::size_t)>(
        [this](auto handler, boost::asio::mutable_buffer b) {
          backend_->read_some(b, io_handler{std::move(handler)});
        },
        token, first_of<boost::asio::mutable_buffer>(buffers));
  }

  /// Asio's AsyncWriteStream: writes from the first non-empty buffer of `buffers` (a write may
  /// always take less than offered; `net::async_write` loops).
  template <class ConstBufferSequence, class WriteToken>
  auto async_write_some(const ConstBufferSequence& buffers, WriteToken&& token) {
    return boost::asio::async_initiate<WriteToken, void(boost::system::error_code, std::size_t)>(
        [this](auto handler, boost::asio::const_buffer b) {
          backend_->write_some(b, io_handler{std::move(handler)});
        },
        token, first_of<boost::asio::const_buffer>(buffers));
  }

  /// See `backend::cancel`.
  void cancel() { backend_->cancel(); }
  /// See `backend::shutdown_send`.
  void shutdown_send(boost::system::error_code& ec) { backend_->shutdown_send(ec); }
  /// See `backend::close`.
  void close() { backend_->close(); }
  /// See `backend::remote_address`.
  std::string remote_address() const { return backend_->remote_address(); }
  /// See `backend::socket`.
  boost::asio::ip::tcp::socket* socket() noexcept { return backend_->socket(); }

 private:
  /// The first non-empty buffer of `buffers`, or an empty one.
  template <class Buffer, class Sequence>
  static Buffer first_of(const Sequence& buffers) {
    auto end = boost::asio::buffer_sequence_end(buffers);
    for (auto it = boost::asio::buffer_sequence_begin(buffers); it != end; ++it)
      if (Buffer b{*it}; b.size() > 0) return b;
    return Buffer{};
  }

  std::unique_ptr<backend> backend_;
  executor_type exec_;
};

}  // namespace caa::http
