#include "http_session.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <cctype>
#include <chrono>

namespace scripted_model {

namespace {

constexpr std::uint64_t body_limit = 512ULL << 20;  // resumed `large` turns get big
constexpr std::uint32_t header_limit = 64 << 10;
constexpr auto idle_timeout = std::chrono::minutes(5);
constexpr auto write_timeout = std::chrono::seconds(60);

incoming_request to_incoming(http::request<http::string_body>&& req) {
  incoming_request in;
  in.method = std::string(req.method_string());
  in.target = std::string(req.target());
  for (const auto& field : req) {
    std::string name(field.name_string());
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    in.headers.emplace_back(std::move(name), std::string(field.value()));
  }
  in.body = std::move(req.body());
  return in;
}

}  // namespace

http_session::http_session(net::ip::tcp::socket&& socket, std::shared_ptr<router> r)
    : stream_(std::move(socket)), router_(std::move(r)), timer_(stream_.get_executor()) {}

void http_session::run() {
  net::dispatch(stream_.get_executor(),
                beast::bind_front_handler(&http_session::do_read, shared_from_this()));
}

void http_session::do_read() {
  parser_.emplace();
  parser_->body_limit(body_limit);
  parser_->header_limit(header_limit);
  stream_.expires_after(idle_timeout);
  http::async_read(stream_, buffer_, *parser_,
                   beast::bind_front_handler(&http_session::on_read, shared_from_this()));
}

void http_session::on_read(beast::error_code ec, std::size_t) {
  if (ec) return do_close();  // closed by the client, timed out or malformed: nothing to answer
  auto req = parser_->release();
  keep_alive_ = req.keep_alive();
  head_ = req.method() == http::verb::head;
  version_ = req.version();
  plan_ = router_->handle(to_incoming(std::move(req)));
  timer_.expires_after(plan_.delay);
  timer_.async_wait(beast::bind_front_handler(&http_session::on_delay, shared_from_this()));
}

void http_session::on_delay(beast::error_code ec) {
  if (ec) return do_close();
  if (plan_.streamed) return do_write_stream_header();
  do_write_complete();
}

void http_session::do_write_complete() {
  complete_.emplace(static_cast<http::status>(plan_.status), version_);
  if (plan_.status == 529)
    complete_->reason("Overloaded");  // not in Beast's table; Anthropic's "overloaded" status
  complete_->set(http::field::content_type, plan_.content_type);
  if (!plan_.request_id.empty()) complete_->set("request-id", plan_.request_id);
  complete_->keep_alive(keep_alive_);
  if (head_) {  // the CLI's connectivity probe: headers only
    complete_->content_length(plan_.body.size());
  } else {
    complete_->body() = std::move(plan_.body);
    complete_->prepare_payload();
  }
  stream_.expires_after(write_timeout);
  http::async_write(
      stream_, *complete_,
      beast::bind_front_handler(&http_session::on_write_complete, shared_from_this()));
}

void http_session::on_write_complete(beast::error_code ec, std::size_t) {
  if (ec) return do_close();
  finish_response();
}

void http_session::do_write_stream_header() {
  header_.emplace(static_cast<http::status>(plan_.status), version_);
  header_->set(http::field::content_type, plan_.content_type);
  header_->set(http::field::cache_control, "no-cache");
  header_->set("request-id", plan_.request_id);
  header_->keep_alive(keep_alive_);
  header_->chunked(true);
  header_sr_.emplace(*header_);
  next_event_ = 0;
  stream_.expires_after(write_timeout);
  http::async_write_header(
      stream_, *header_sr_,
      beast::bind_front_handler(&http_session::on_write_stream_header, shared_from_this()));
}

void http_session::on_write_stream_header(beast::error_code ec, std::size_t) {
  if (ec) return do_close();
  do_next_event();
}

void http_session::do_next_event() {
  if (next_event_ >= plan_.events.size()) {
    stream_.expires_after(write_timeout);
    return net::async_write(
        stream_, http::make_chunk_last(),
        beast::bind_front_handler(&http_session::on_write_last_chunk, shared_from_this()));
  }
  // Events without a pause before them go out together in one chunk.
  std::size_t end = next_event_ + 1;
  while (end < plan_.events.size() && plan_.events[end].delay.count() == 0) ++end;
  const auto delay = plan_.events[next_event_].delay;
  if (delay.count() == 0) return do_write_event(end);
  timer_.expires_after(delay);
  timer_.async_wait([self = shared_from_this(), end](beast::error_code ec) {
    if (ec) return self->do_close();
    self->do_write_event(end);
  });
}

void http_session::do_write_event(std::size_t end) {
  batch_.clear();
  for (std::size_t i = next_event_; i < end; ++i) batch_ += plan_.events[i].bytes;
  stream_.expires_after(write_timeout);
  net::async_write(stream_, http::make_chunk(net::buffer(batch_)),
                   [self = shared_from_this(), end](beast::error_code ec, std::size_t n) {
                     self->on_write_event(ec, n, end);
                   });
}

void http_session::on_write_event(beast::error_code ec, std::size_t, std::size_t end) {
  if (ec) return do_close();  // the client went away mid-stream (e.g. an interrupt)
  next_event_ = end;
  do_next_event();
}

void http_session::on_write_last_chunk(beast::error_code ec, std::size_t) {
  if (ec) return do_close();
  finish_response();
}

void http_session::finish_response() {
  plan_ = {};
  batch_.clear();
  batch_.shrink_to_fit();
  complete_.reset();
  header_sr_.reset();
  header_.reset();
  if (!keep_alive_) return do_close();
  do_read();
}

void http_session::do_close() {
  beast::error_code ec;
  stream_.socket().shutdown(net::ip::tcp::socket::shutdown_send, ec);
  stream_.socket().close(ec);
}

}  // namespace scripted_model
