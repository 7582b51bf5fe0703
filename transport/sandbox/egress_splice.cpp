// The splice of an egress tunnel: the 200 answer, then bytes both ways with one buffer per
// direction (one read, then one write of what it got), half-closes passed on, idle deadline.

#include "transport/sandbox/egress_core.hpp"

#include <boost/asio/write.hpp>

#include <algorithm>
#include <cstring>

namespace caa::sandbox::detail {

namespace {

constexpr std::string_view established = "HTTP/1.1 200 Connection established\r\n\r\n";

}  // namespace

void egress_tunnel::do_answer() {
  phase_ = phase::answering;
  net::async_write(
      client_, net::buffer(established),
      [self = shared_from_this()](error_code ec, std::size_t) { self->on_answer(ec); });
}

void egress_tunnel::on_answer(error_code ec) {
  if (phase_ != phase::answering) return;
  if (ec) return close();
  phase_ = phase::splicing;
  last_active_ = std::chrono::steady_clock::now();
  arm(core_->cfg.idle_timeout);
  // Bytes the client sent right after its request head (e.g. a TLS hello) go first.
  auto early = std::string_view{head_}.substr(head_size_);
  if (!early.empty()) {
    auto n = std::min(early.size(), flows_[0].buf.size());  // head_ is smaller than a buffer
    std::memcpy(flows_[0].buf.data(), early.data(), n);
    do_write(0, n);
  } else {
    do_read(0);
  }
  head_ = std::string{};
  do_read(1);
}

void egress_tunnel::do_read(std::size_t dir) {
  with_side(dir, [&](auto& source) {
    source.async_read_some(net::buffer(flows_[dir].buf),
                           [self = shared_from_this(), dir](error_code ec, std::size_t n) {
                             self->on_read(dir, ec, n);
                           });
  });
}

void egress_tunnel::on_read(std::size_t dir, error_code ec, std::size_t n) {
  if (phase_ != phase::splicing) return;
  if (n > 0) {
    last_active_ = std::chrono::steady_clock::now();
    return do_write(dir, n);  // an error comes again on the next read
  }
  if (ec == net::error::eof) return end_flow(dir);
  close();
}

void egress_tunnel::do_write(std::size_t dir, std::size_t n) {
  with_side(1 - dir, [&](auto& sink) {
    net::async_write(
        sink, net::buffer(flows_[dir].buf.data(), n),
        [self = shared_from_this(), dir](error_code ec, std::size_t) { self->on_write(dir, ec); });
  });
}

void egress_tunnel::on_write(std::size_t dir, error_code ec) {
  if (phase_ != phase::splicing) return;
  if (ec) return close();
  last_active_ = std::chrono::steady_clock::now();
  do_read(dir);
}

void egress_tunnel::end_flow(std::size_t dir) {
  flows_[dir].ended = true;
  if (flows_[1 - dir].ended) return close();
  // The other side learns that no more bytes come; the other direction goes on.
  error_code ignored;
  with_side(1 - dir, [&](auto& sink) { sink.shutdown(net::socket_base::shutdown_send, ignored); });
}

}  // namespace caa::sandbox::detail
