// Writing: complete responses, error responses, streams (chunked), lingering close.

#include "transport/http/http_session.hpp"

#include "transport/http/correlation.hpp"
#include "transport/http/log_shim.hpp"
#include "transport/http/openai_error.hpp"
#include "transport/http/wire.hpp"

#include "config/metrics_catalog.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/string.hpp>

#include <sys/socket.h>

namespace caa::http {

namespace {

/// A loggable rendering of an error (internal context included; never sent to clients).
std::string describe(const caf::error& e) {
  if (!e) return "an empty error";
  if (e.category() == errc_category) return render_errc(e.code(), e.context());
  // CAF's own errors (e.g. a request timeout or a receiver that is gone) by category and code.
  return "foreign error " + caf::to_string(e.category()) + ":" + std::to_string(e.code());
}

}  // namespace

stream_outbox::outcome stream_outbox::add(std::string chunk) {
  std::lock_guard<std::mutex> guard{mtx_};
  if (fd_ >= 0 && bytes_.empty() && framed_.empty() && !posted_) {
    auto payload = chunk.size();
    auto wire = chunked_ ? frame_chunk(chunk) : std::move(chunk);
    auto n = ::send(fd_, wire.data(), wire.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n >= 0 && static_cast<std::size_t>(n) == wire.size()) return outcome::sent;
    // The socket took part or none (or failed: the connection's own write meets the error).
    // The connection writes the rest, and opens the outbox again once it is idle.
    fd_ = -1;
    framed_ = wire.substr(n > 0 ? static_cast<std::size_t>(n) : 0);
    framed_payload_ = payload;
    posted_ = true;
    return outcome::post;
  }
  if (bytes_.empty())
    bytes_ = std::move(chunk);
  else
    bytes_.append(chunk);
  return std::exchange(posted_, true) ? outcome::queued : outcome::post;
}

stream_outbox::taken stream_outbox::take() {
  std::lock_guard<std::mutex> guard{mtx_};
  posted_ = false;
  taken t{std::exchange(framed_, {}), std::exchange(framed_payload_, 0), std::exchange(bytes_, {})};
  return t;
}

void stream_outbox::open(int fd, bool chunked) {
  std::lock_guard<std::mutex> guard{mtx_};
  if (posted_ || !bytes_.empty() || !framed_.empty()) return;
  fd_ = fd;
  chunked_ = chunked;
}

void stream_outbox::shut() {
  std::lock_guard<std::mutex> guard{mtx_};
  fd_ = -1;
}

header_list http_session::common_headers() {
  if (ex_.correlation_id.empty()) ex_.correlation_id = new_correlation_id();
  header_list h;
  h.emplace_back("X-Correlation-ID", ex_.correlation_id);
  if (stopping_ || !ex_.keep_alive || ex_.body_pending) ex_.close_after = true;
  if (ex_.close_after)
    h.emplace_back("Connection", "close");
  else if (ex_.http10)
    h.emplace_back("Connection", "keep-alive");
  return h;
}

void http_session::add_handler_headers(header_list& out, const header_list& from) {
  for (const auto& [name, value] : from) {
    if (is_sendable_header(name, value) && !boost::beast::iequals(name, "X-Correlation-ID"))
      out.emplace_back(name, value);
    else
      log_error("dropped an unsendable response header", ex_.correlation_id);
  }
}

void http_session::send_response(const response& r, bool add_cors) {
  if (phase_ == phase::closed) return;
  ++deadline_gen_;
  deadline_.cancel();
  awaiting_ = 0;
  phase_ = phase::writing;
  ex_.status = r.status;
  auto h = common_headers();
  if (add_cors) ctx_->cors.decorate(ex_.origin, h);
  if (!r.content_type.empty() && (!r.body.empty() || r.status != 204))
    h.emplace_back("Content-Type", r.content_type);
  add_handler_headers(h, r.headers);
  queue(out_item{serialize_response(r.status, h, r.body, ex_.head_only), 0, true});
}

response http_session::shaped_error(const caf::error& e) {
  if (ex_.correlation_id.empty()) ex_.correlation_id = new_correlation_id();
  auto r = error_response(e, ex_.correlation_id);
  return ex_.openai_errors ? to_openai_error(std::move(r)) : r;
}

void http_session::send_error(const caf::error& e) {
  auto r = shaped_error(e);
  if (r.status >= 500) log_error(describe(e), ex_.correlation_id);
  send_response(r);
}

void http_session::send_edge_error(edge_condition x) {
  ex_.close_after = true;
  send_response(error_response(x, ex_.correlation_id));
}

void http_session::reject(const caf::error& e) {
  ex_.close_after = true;
  send_error(e);
}

void http_session::queue(out_item item) {
  out_.push_back(std::move(item));
  do_write();
}

void http_session::join_queued_writes() {
  // Stream frames queued while a write was in flight go out as one write: one send and one
  // stall timer per batch instead of per event. A write that ends the response stays last.
  // Taken off the queue and put back joined: only its ends change, and erasing inside a deque
  // would move its elements (a reference to the front then names a dead slot, and the bytes
  // joined to it were lost).
  constexpr std::size_t max_joined_bytes = 256 * 1024;
  if (out_.size() < 2 || out_.front().ends_response) return;  // nothing to join
  auto joined = std::move(out_.front());
  out_.pop_front();
  while (!out_.empty() && !joined.ends_response &&
         joined.bytes.size() + out_.front().bytes.size() <= max_joined_bytes) {
    auto& next = out_.front();
    joined.bytes.append(next.bytes);
    joined.payload += next.payload;
    joined.ends_response = next.ends_response;
    out_.pop_front();
  }
  out_.push_front(std::move(joined));
}

void http_session::do_write() {
  if (write_pending_ || out_.empty() || phase_ == phase::closed) return;
  if (outbox_) outbox_->shut();  // no direct write behind or beside this one
  join_queued_writes();
  write_pending_ = true;
  auto gen = ++write_gen_;
  write_timer_.expires_after(ctx_->options.write_stall);
  write_timer_.async_wait([self = shared_from_this(), gen](boost::system::error_code ec) {
    if (!ec && gen == self->write_gen_ && self->write_pending_)
      self->do_close();  // the client stopped reading
  });
  net::async_write(stream_, net::buffer(out_.front().bytes),
                   [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
                     self->on_write(ec, n);
                   });
}

void http_session::on_write(boost::system::error_code ec, std::size_t) {
  write_pending_ = false;
  ++write_gen_;
  write_timer_.cancel();
  if (phase_ == phase::closed) return;
  if (ec) return do_close();
  auto item = std::move(out_.front());
  out_.pop_front();
  if (item.payload > 0 && sink_) sink_->written(item.payload);
  if (item.ends_response) return finish_exchange();
  if (phase_ == phase::streaming && stream_finishing_ && out_.empty()) return end_stream_writes();
  do_write();
  open_outbox();
}

void http_session::open_outbox() {
  if (!outbox_ || write_pending_ || !out_.empty() || phase_ != phase::streaming ||
      stream_finishing_)
    return;
  if (auto* socket = stream_.socket(); socket != nullptr && socket->is_open())
    outbox_->open(socket->native_handle(), stream_chunked_);
}

void http_session::shut_outbox() {
  if (auto o = std::move(outbox_)) o->shut();
}

void http_session::finish_exchange() {
  log_exchange();
  if (phase_ == phase::streaming || sink_) {
    ping_timer_.cancel();
    shut_outbox();
    if (auto s = std::move(sink_)) s->ended();
    link_.reset();
  }
  if (ex_.close_after) return do_linger();
  start_request();
}

void http_session::post_answer(uint64_t seq, response r) {
  net::post(stream_.get_executor(), [self = shared_from_this(), seq, r = std::move(r)]() mutable {
    if (seq == self->awaiting_ && self->phase_ == phase::handler) self->send_response(r);
  });
}

void http_session::post_failure(uint64_t seq, caf::error e) {
  net::post(stream_.get_executor(), [self = shared_from_this(), seq, e = std::move(e)] {
    if (seq == self->awaiting_ && self->phase_ == phase::handler) self->send_error(e);
  });
}

void http_session::post_stream(uint64_t seq, response head, std::shared_ptr<bounded_sink> sink,
                               std::shared_ptr<stream_transport> link,
                               std::shared_ptr<stream_outbox> outbox) {
  net::post(stream_.get_executor(),
            [self = shared_from_this(), seq, head = std::move(head), sink = std::move(sink),
             link = std::move(link), outbox = std::move(outbox)]() mutable {
              if (seq == self->awaiting_ && self->phase_ == phase::handler)
                self->start_stream(head, std::move(sink), std::move(link), std::move(outbox));
              else
                sink->ended();
            });
}

void http_session::post_stream_data(uint64_t seq, std::shared_ptr<stream_outbox> outbox) {
  net::post(stream_.get_executor(), [self = shared_from_this(), seq, o = std::move(outbox)] {
    auto t = o->take();
    if ((t.framed.empty() && t.raw.empty()) || seq != self->ex_.seq ||
        self->phase_ != phase::streaming || self->stream_finishing_)
      return;
    auto payload = t.framed_payload + t.raw.size();
    auto wire = std::move(t.framed);
    if (!t.raw.empty()) wire.append(self->stream_chunked_ ? frame_chunk(t.raw) : t.raw);
    self->queue(out_item{std::move(wire), payload, false});
  });
}

void http_session::post_stream_finish(uint64_t seq) {
  net::post(stream_.get_executor(), [self = shared_from_this(), seq] {
    if (seq != self->ex_.seq || self->phase_ != phase::streaming) return;
    self->stream_finishing_ = true;
    if (!self->write_pending_ && self->out_.empty()) self->end_stream_writes();
  });
}

void http_session::post_stream_abort(uint64_t seq) {
  net::post(stream_.get_executor(), [self = shared_from_this(), seq] {
    if (seq == self->ex_.seq && self->phase_ == phase::streaming) self->do_close();
  });
}

void http_session::start_stream(const response& head, std::shared_ptr<bounded_sink> sink,
                                std::shared_ptr<stream_transport> link,
                                std::shared_ptr<stream_outbox> outbox) {
  ++deadline_gen_;
  deadline_.cancel();
  awaiting_ = 0;
  phase_ = phase::streaming;
  sink_ = std::move(sink);
  link_ = std::move(link);
  outbox_ = std::move(outbox);
  stream_finishing_ = false;
  stream_terminated_ = false;
  stream_chunked_ = !ex_.http10;  // HTTP/1.0: the end of the stream is the end of the connection
  ex_.close_after = ex_.close_after || ex_.http10;
  ex_.status = head.status;
  auto h = common_headers();
  ctx_->cors.decorate(ex_.origin, h);
  h.emplace_back("Content-Type", head.content_type);
  bool sse_stream = head.content_type.rfind(sse::content_type, 0) == 0;
  if (sse_stream) {
    h.emplace_back("Cache-Control", "no-cache");
    h.emplace_back("X-Accel-Buffering", "no");
  }
  add_handler_headers(h, head.headers);
  if (stream_chunked_) h.emplace_back("Transfer-Encoding", "chunked");
  queue(out_item{serialize_head(head.status, h)});
  if (sse_stream) do_ping();
  do_read();  // a pending read notices a client that goes away
}

void http_session::end_stream_writes() {
  if (stream_terminated_) return;
  stream_terminated_ = true;
  if (stream_chunked_) return queue(out_item{std::string{last_chunk}, 0, true});
  ex_.close_after = true;
  finish_exchange();
}

void http_session::do_ping() {
  ping_timer_.expires_after(ctx_->options.keep_alive_interval);
  ping_timer_.async_wait([self = shared_from_this(), seq = ex_.seq](boost::system::error_code ec) {
    if (ec || seq != self->ex_.seq || self->phase_ != phase::streaming || self->stream_finishing_)
      return;
    if (self->sink_ && self->sink_->push(sse::keep_alive())) self->do_ping();
  });
}

void http_session::do_linger() {
  lingering_ = true;
  phase_ = phase::writing;
  buffer_.clear();
  boost::system::error_code ec;
  stream_.shutdown_send(ec);
  if (ec) return do_close();
  arm_deadline(ctx_->options.linger);
  do_read();
}

void http_session::do_close() {
  if (phase_ == phase::closed) return;
  phase_ = phase::closed;
  if (ex_.parsed || ex_.status != 0) log_exchange();
  ++deadline_gen_;
  ++write_gen_;
  deadline_.cancel();
  write_timer_.cancel();
  ping_timer_.cancel();
  shut_outbox();  // before the descriptor closes
  stream_.close();
  awaiting_ = 0;  // queued writes stay until the session dies: a cancelled write may still hold one
  if (auto s = std::move(sink_)) s->ended();
  link_.reset();
}

void http_session::log_exchange() {
  if (ex_.logged) return;
  ex_.logged = true;
  auto elapsed = std::chrono::steady_clock::now() - ex_.started;
  request_summary s;
  s.method = ex_.method;
  s.route = ex_.route;
  s.status = ex_.status;
  s.duration_ms = std::chrono::duration<double, std::milli>(elapsed).count();
  metrics::http_request(ex_.method, ex_.route, ex_.status, s.duration_ms / 1000);
  s.correlation_id = ex_.correlation_id;
  s.tenant_id = ex_.tenant_id;
  s.client_ip = ex_.client_ip;
  log_request(s);
}

}  // namespace caa::http
