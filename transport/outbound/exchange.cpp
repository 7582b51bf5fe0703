#include "transport/outbound/exchange.hpp"

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include <openssl/ssl.h>

#include <algorithm>
#include <cctype>

namespace caa::outbound::detail {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = net::ip::tcp;
using boost::system::error_code;

namespace {

/// Whether `name: value` can be sent as is: a token name, a value without controls but tab.
bool is_sendable(std::string_view name, std::string_view value) {
  auto tchar = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 ||
           std::string_view{"!#$%&'*+-.^_`|~"}.find(c) != std::string_view::npos;
  };
  auto vchar = [](char ch) {
    auto c = static_cast<unsigned char>(ch);
    return (c >= 0x20 || c == '\t') && c != 0x7F;
  };
  return !name.empty() && std::all_of(name.begin(), name.end(), tchar) &&
         std::all_of(value.begin(), value.end(), vchar) && !is_reserved_header(name);
}

}  // namespace

exchange::exchange(std::shared_ptr<client::core> core, url_parts url, post_request req,
                   std::function<void(post_result)> done)
    : core_(std::move(core)),
      url_(std::move(url)),
      req_(std::move(req)),
      done_(std::move(done)),
      strand_(net::make_strand(core_->io)),
      deadline_(strand_),
      stream_(strand_, core_->tls) {}

void exchange::start() {
  net::post(strand_, [self = shared_from_this()] {
    bool sendable = std::all_of(self->req_.headers.begin(), self->req_.headers.end(),
                                [](const auto& h) { return is_sendable(h.first, h.second); });
    if (!sendable) return self->fail(failure::protocol);
    self->deadline_.expires_after(self->req_.timeout);
    self->deadline_.async_wait([self](error_code ec) { self->on_deadline(ec); });
    self->do_resolve();
  });
}

void exchange::do_resolve() {
  if (url_.literal) return do_connect({*url_.literal});
  auto answer = [self = shared_from_this()](bool ok, std::vector<std::string> addresses) {
    net::post(self->strand_, [self, ok, addresses = std::move(addresses)]() mutable {
      self->on_resolve(ok, addresses);
    });
  };
  core_->resolver(url_.host, url_.port, std::move(answer));
}

void exchange::on_resolve(bool ok, const std::vector<std::string>& addresses) {
  if (finished_ || resolved_) return;
  resolved_ = true;
  if (!ok || addresses.empty()) return fail(failure::resolve);
  std::vector<ip_bytes> checked;
  for (const auto& text : addresses) {
    auto addr = parse_address(text);
    if (!addr || !allowed(*addr, core_->policy)) return fail(failure::refused);  // any one
    checked.push_back(*addr);
  }
  do_connect(checked);
}

void exchange::do_connect(const std::vector<ip_bytes>& addresses) {
  std::vector<tcp::endpoint> endpoints;
  auto port = static_cast<uint16_t>(std::stoul(url_.port));
  for (const auto& a : addresses) {
    if (!allowed(a, core_->policy)) return fail(failure::refused);
    net::ip::address_v6 v6{a};
    endpoints.emplace_back(v6.is_v4_mapped()
                               ? net::ip::address{net::ip::make_address_v4(net::ip::v4_mapped, v6)}
                               : net::ip::address{v6},
                           port);
  }
  beast::get_lowest_layer(stream_).async_connect(
      endpoints,
      [self = shared_from_this()](error_code ec, const tcp::endpoint&) { self->on_connect(ec); });
}

void exchange::on_connect(error_code ec) {
  if (finished_) return;
  if (ec) return fail(failure::connect);
  ++core_->connections;
  if (url_.tls)
    do_handshake();
  else
    do_write();
}

void exchange::do_handshake() {
  if (!url_.literal) SSL_set_tlsext_host_name(stream_.native_handle(), url_.host.c_str());
  stream_.set_verify_mode(net::ssl::verify_peer);
  stream_.set_verify_callback(net::ssl::host_name_verification(url_.host));
  stream_.async_handshake(net::ssl::stream_base::client,
                          [self = shared_from_this()](error_code ec) { self->on_handshake(ec); });
}

void exchange::on_handshake(error_code ec) {
  if (finished_) return;
  if (ec) return fail(failure::tls);
  do_write();
}

void exchange::do_write() {
  request_ = {bhttp::verb::post, url_.target, 11};
  request_.set(bhttp::field::host, url_.host_header);
  request_.set(bhttp::field::user_agent, "claude-agent-api");
  request_.set(bhttp::field::content_type, "application/json");
  request_.set(bhttp::field::connection, "close");
  for (const auto& [name, value] : req_.headers) request_.insert(name, value);
  request_.body() = std::move(req_.body);
  request_.prepare_payload();
  auto on_done = [self = shared_from_this()](error_code ec, std::size_t) { self->on_write(ec); };
  if (url_.tls)
    bhttp::async_write(stream_, request_, std::move(on_done));
  else
    bhttp::async_write(stream_.next_layer(), request_, std::move(on_done));
}

void exchange::on_write(error_code ec) {
  if (finished_) return;
  if (ec) return fail(failure::protocol);
  do_read();
}

void exchange::do_read() {
  parser_.emplace();
  parser_->body_limit(core_->policy.max_response_bytes);
  parser_->header_limit(16u << 10);
  auto on_done = [self = shared_from_this()](error_code ec, std::size_t) { self->on_read(ec); };
  if (url_.tls)
    bhttp::async_read(stream_, buffer_, *parser_, std::move(on_done));
  else
    bhttp::async_read(stream_.next_layer(), buffer_, *parser_, std::move(on_done));
}

void exchange::on_read(error_code ec) {
  if (finished_) return;
  if (ec == bhttp::error::body_limit || ec == bhttp::error::header_limit)
    return fail(failure::too_large);
  if (ec) return fail(failure::protocol);
  auto& res = parser_->get();
  post_result r;
  r.status = res.result_int();
  r.content_type = std::string{res[bhttp::field::content_type]};
  r.body = std::move(res.body());
  finish(std::move(r));
}

void exchange::on_deadline(error_code ec) {
  if (ec == net::error::operation_aborted || finished_) return;
  fail(failure::timeout);
}

void exchange::finish(post_result r) {
  if (finished_) return;
  finished_ = true;
  deadline_.cancel();
  error_code ignored;
  beast::get_lowest_layer(stream_).socket().close(ignored);
  auto done = std::move(done_);
  done_ = nullptr;
  done(std::move(r));
}

}  // namespace caa::outbound::detail
