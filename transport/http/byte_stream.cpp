#include "transport/http/byte_stream.hpp"

namespace caa::http {

namespace {

using tcp = boost::asio::ip::tcp;

/// The production backend: the accepted socket, whose operations complete as Asio's do.
class tcp_backend final : public byte_stream::backend {
 public:
  explicit tcp_backend(tcp::socket s) : socket_(std::move(s)) {}

  byte_stream::executor_type get_executor() override { return socket_.get_executor(); }

  void read_some(boost::asio::mutable_buffer b, byte_stream::io_handler h) override {
    socket_.async_read_some(b, std::move(h));
  }

  void write_some(boost::asio::const_buffer b, byte_stream::io_handler h) override {
    socket_.async_write_some(b, std::move(h));
  }

  void cancel() override {
    boost::system::error_code ignored;
    socket_.cancel(ignored);
  }

  void shutdown_send(boost::system::error_code& ec) override {
    socket_.shutdown(tcp::socket::shutdown_send, ec);
  }

  void close() override {
    boost::system::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
  }

  std::string remote_address() const override {
    boost::system::error_code ec;
    auto ep = socket_.remote_endpoint(ec);
    return ec ? std::string{} : ep.address().to_string();
  }

  tcp::socket* socket() noexcept override { return &socket_; }

 private:
  tcp::socket socket_;
};

}  // namespace

byte_stream::byte_stream(std::unique_ptr<backend> b)
    : backend_(std::move(b)), exec_(backend_->get_executor()) {}

byte_stream::byte_stream(tcp::socket s)
    : byte_stream(std::make_unique<tcp_backend>(std::move(s))) {}

}  // namespace caa::http
