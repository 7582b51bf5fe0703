#include "transport/http/http_session.hpp"

#include "transport/http/correlation.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/string.hpp>

#include <algorithm>
#include <cstring>

namespace caa::http {

namespace {

/// Methods the edge accepts at all; anything else (CONNECT, TRACE, lower case) is a 400.
bool is_known_method(std::string_view m) {
  static constexpr std::array<std::string_view, 7> known{"GET",   "HEAD",   "POST",   "PUT",
                                                         "PATCH", "DELETE", "OPTIONS"};
  return std::find(known.begin(), known.end(), m) != known.end();
}

/// `x` without leading and trailing spaces and tabs.
std::string_view trim(std::string_view x) {
  while (!x.empty() && (x.front() == ' ' || x.front() == '\t')) x.remove_prefix(1);
  while (!x.empty() && (x.back() == ' ' || x.back() == '\t')) x.remove_suffix(1);
  return x;
}

/// The buffer size of a connection: the largest header the scanner can accept, with room for
/// pipelined requests behind it.
constexpr std::size_t buffer_limit = 64 * 1024;

/// The longest chunk extension accepted.
constexpr std::size_t max_chunk_extension = 1024;

}  // namespace

http_session::http_session(tcp::socket socket, std::shared_ptr<const edge_context> ctx,
                           std::unique_ptr<connection_slot> slot)
    : http_session(byte_stream{std::move(socket)}, std::move(ctx), std::move(slot)) {}

http_session::http_session(byte_stream stream, std::shared_ptr<const edge_context> ctx,
                           std::unique_ptr<connection_slot> slot)
    : stream_(std::move(stream)),
      ctx_(std::move(ctx)),
      slot_(std::move(slot)),
      buffer_(buffer_limit),
      deadline_(stream_.get_executor()),
      write_timer_(stream_.get_executor()),
      ping_timer_(stream_.get_executor()) {
  peer_ = stream_.remote_address();
  if (peer_.empty()) peer_ = "-";
  chunk_header_guard_ = [](std::uint64_t, boost::beast::string_view ext,
                           boost::system::error_code& e) {
    if (ext.size() > max_chunk_extension) e = bhttp::error::bad_chunk_extension;
  };
}

http_session::~http_session() {
  shut_outbox();  // the socket closes after this body: no direct write may follow
  if (sink_) sink_->ended();
}

void http_session::run() {
  net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->start_request(); });
}

void http_session::shutdown() {
  net::post(stream_.get_executor(), [self = shared_from_this()] {
    self->stopping_ = true;
    if (self->on_shutdown_) return self->on_shutdown_();  // an upgraded WebSocket
    auto p = self->phase_;
    if (p == phase::idle || p == phase::header || p == phase::streaming)
      self->do_close();  // nothing accepted yet, or a stream the client will resume
  });
}

void http_session::start_request() {
  if (stopping_ || phase_ == phase::closed) {
    do_close();
    return;
  }
  ex_ = exchange{};
  ex_.seq = ++next_seq_;
  ex_.client_ip = peer_;
  scanner_.reset();
  header_parser_.reset();
  body_parser_.reset();
  phase_ = phase::idle;
  const auto& s = ctx_->settings;
  auto d = first_request_ ? s.header_timeout : s.keep_alive_timeout;
  arm_deadline(std::chrono::duration_cast<std::chrono::steady_clock::duration>(d));
  ex_.started = std::chrono::steady_clock::now();
  if (read_pending_) {
    resume_after_cancel_ = true;  // a read left over from a stream: take it back first
    stream_.cancel();
  } else if (buffer_.size() > 0) {
    process_header();
  } else {
    do_read();
  }
}

void http_session::do_read() {
  if (read_pending_ || phase_ == phase::closed) return;
  auto room = buffer_.max_size() - buffer_.size();
  if (room == 0) {
    if (phase_ == phase::header || phase_ == phase::idle)
      send_edge_error(edge_condition::headers_too_large);
    return;  // streaming: stop reading until the stream ends
  }
  read_pending_ = true;
  stream_.async_read_some(net::buffer(read_buf_.data(), std::min(room, read_buf_.size())),
                          [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
                            self->on_read(ec, n);
                          });
}

void http_session::on_read(boost::system::error_code ec, std::size_t n) {
  read_pending_ = false;
  if (!ec && n > 0 && phase_ != phase::closed && !lingering_) {
    auto room = buffer_.max_size() - buffer_.size();
    n = std::min(n, room);
    std::memcpy(buffer_.prepare(n).data(), read_buf_.data(), n);
    buffer_.commit(n);
  }
  if (lingering_) {
    if (ec)
      do_close();
    else
      do_read();  // discard until the peer closes or the linger deadline passes
    return;
  }
  if (resume_after_cancel_) {
    resume_after_cancel_ = false;
    if (ec && ec != net::error::operation_aborted) return do_close();
    if (buffer_.size() > 0) return process_header();
    return do_read();
  }
  if (phase_ == phase::streaming) {
    if (ec) return do_close();  // the client went away: end the stream now
    if (buffer_.size() < buffer_limit / 4) do_read();
    return;
  }
  if (phase_ != phase::idle && phase_ != phase::header) return;  // a deadline or shutdown took over
  if (ec) return do_close();
  process_header();
}

void http_session::process_header() {
  if (phase_ == phase::idle) {
    phase_ = phase::header;
    if (!first_request_) {
      ex_.started = std::chrono::steady_clock::now();
      arm_deadline(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
          ctx_->settings.header_timeout));
    }
    first_request_ = false;
  }
  while (!scanner_.started() && buffer_.size() >= 2 &&
         std::memcmp(buffer_.data().data(), "\r\n", 2) == 0)
    buffer_.consume(2);  // RFC 9112 2.2: ignore empty lines before a request line
  std::string_view view{static_cast<const char*>(buffer_.data().data()), buffer_.size()};
  switch (scanner_.scan(view)) {
    case scan_status::incomplete:
      return do_read();
    case scan_status::complete:
      return on_header(scanner_.header_size());
    case scan_status::bad_request:
      return reject(make_error(errc::bad_request, "header scan"));
    case scan_status::uri_too_long:
      return send_edge_error(edge_condition::uri_too_long);
    case scan_status::headers_too_large:
      return send_edge_error(edge_condition::headers_too_large);
  }
}

void http_session::on_header(std::size_t size) {
  header_parser_.emplace();
  header_parser_->header_limit(static_cast<std::uint32_t>(size + 1));
  header_parser_->body_limit(boost::none);  // the route decides, before the body is read
  boost::system::error_code ec;
  auto used = header_parser_->put(net::buffer(buffer_.data().data(), size), ec);
  buffer_.consume(size);
  if (ec || used != size || !header_parser_->is_header_done())
    return reject(make_error(errc::bad_request, "header parse"));
  const auto& msg = header_parser_->get();
  ex_.parsed = true;
  ex_.correlation_id = correlation_id_for(msg["X-Correlation-ID"]);
  ex_.origin = std::string{msg[bhttp::field::origin]};
  ex_.keep_alive = msg.keep_alive();
  ex_.body_pending = !header_parser_->is_done();
  std::string forwarded;
  for (auto [it, end] = msg.equal_range("X-Forwarded-For"); it != end; ++it)
    forwarded += (forwarded.empty() ? "" : ",") + std::string{it->value()};
  ex_.client_ip = ctx_->proxies.client_ip(peer_, forwarded);
  if (check_framing()) route_request();
}

bool http_session::check_framing() {
  const auto& msg = header_parser_->get();
  auto bad = [this](const char* what) {
    reject(make_error(errc::bad_request, what));
    return false;
  };
  unsigned version = msg.version();
  if (version != 11 && version != 10) return bad("http version");
  ex_.http10 = version == 10;
  auto method = std::string_view{msg.method_string()};
  if (!is_known_method(method)) return bad("method");
  ex_.method = std::string{method};
  ex_.head_only = method == "HEAD";
  auto target = std::string_view{msg.target()};
  if (target.empty() || target.front() != '/' || target.find('#') != std::string_view::npos)
    return bad("request target form");
  auto hosts = msg.count(bhttp::field::host);
  if (hosts > 1 || (version == 11 && hosts == 0)) return bad("host");
  if (msg.count(bhttp::field::content_length) > 1) return bad("duplicate content-length");
  auto cl = trim(msg[bhttp::field::content_length]);
  if (cl.find_first_not_of("0123456789") != std::string_view::npos)
    return bad("content-length list");
  auto te_count = msg.count(bhttp::field::transfer_encoding);
  if (te_count > 1 || (te_count == 1 && version == 10)) return bad("transfer-encoding count");
  if (te_count == 1 &&
      !boost::beast::iequals(trim(msg[bhttp::field::transfer_encoding]), "chunked"))
    return bad("transfer-encoding value");
  if (te_count == 1 && msg.count(bhttp::field::content_length) > 0)
    return bad("content-length with transfer-encoding");
  return true;
}

void http_session::route_request() {
  auto target = std::string_view{header_parser_->get().target()};
  auto path = target.substr(0, target.find('?'));
  ex_.openai_errors = path.substr(0, 4) == "/v1/";
  auto m = ctx_->routes.match(ex_.method, path);
  switch (m.status) {
    case match_status::bad_path:
      return reject(make_error(errc::bad_request, "path"));
    case match_status::not_found:
      return send_error(make_error(errc::not_found));
    case match_status::method_not_allowed: {
      if (ex_.method == "OPTIONS")
        return send_response(ctx_->cors.preflight(ex_.origin, m.allow), false);
      auto r = shaped_error(make_error(errc::method_not_allowed));
      r.headers.emplace_back("Allow", m.allow);
      return send_response(r);
    }
    case match_status::matched:
    case match_status::invalid_params:
      break;
  }
  ex_.info = m.route;
  ex_.target = m.target;
  ex_.route = m.route->path_template;
  ex_.matched = std::move(m);
  if (auto cl = header_parser_->content_length(); cl && *cl > body_limit()) {
    ex_.close_after = true;  // the body is never read
    return send_error(make_error(errc::payload_too_large));
  }
  if (ex_.info->policy == route_policy::public_route) return do_rate_limit();
  do_authenticate();
}

void http_session::arm_deadline(std::chrono::steady_clock::duration d) {
  auto gen = ++deadline_gen_;
  deadline_.expires_after(d);
  deadline_.async_wait([self = shared_from_this(), gen](boost::system::error_code ec) {
    if (!ec && gen == self->deadline_gen_) self->on_deadline();
  });
}

void http_session::on_deadline() {
  switch (phase_) {
    case phase::idle:
      return do_close();  // nothing received: just close
    case phase::header:
    case phase::body:
      phase_ = phase::writing;
      stream_.cancel();
      return send_edge_error(edge_condition::request_timeout);
    case phase::stages:
    case phase::handler:
      awaiting_ = 0;
      return send_error(
          with_retry_after(make_error(errc::timeout, "stage deadline"), std::chrono::seconds{1}));
    case phase::writing:
    case phase::streaming:
      if (lingering_) return do_close();
      return;
    case phase::closed:
      return;
  }
}

}  // namespace caa::http
