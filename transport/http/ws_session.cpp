#include "transport/http/ws_session.hpp"

#include "transport/http/log_shim.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/buffers_to_string.hpp>

namespace caa::http {

namespace {

/// Converts a settings duration to the timer's.
std::chrono::steady_clock::duration to_steady(seconds_d d) {
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(d);
}

/// The deadline of the WebSocket opening handshake (sending the 101).
constexpr auto handshake_timeout = std::chrono::seconds{10};

}  // namespace

// -- ws_link ------------------------------------------------------------------------------------

ws_link::ws_link(std::weak_ptr<ws_session> session, std::size_t max_bytes, std::size_t max_frames)
    : session_(std::move(session)), max_bytes_(max_bytes), max_frames_(max_frames) {}

bool ws_link::send(std::string text) {
  std::shared_ptr<ws_session> s;
  bool over_budget = false;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (!open_) return false;
    s = session_.lock();
    over_budget = frames_ >= max_frames_ || bytes_ >= max_bytes_;
    if (!s || over_budget) {
      open_ = false;
    } else {
      bytes_ += text.size();
      ++frames_;
    }
  }
  if (!s) return false;
  if (over_budget) {
    s->post_close(ws_close::policy, "slow reader");
    return false;
  }
  s->post_send(std::move(text));
  return true;
}

void ws_link::close(uint16_t code, std::string reason) {
  std::shared_ptr<ws_session> s;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    open_ = false;
    s = session_.lock();
  }
  if (s) s->post_close(code, std::move(reason));
}

bool ws_link::open() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return open_;
}

bool ws_link::writable() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return open_ && has_room();
}

void ws_link::when_writable(std::function<void()> f) {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (!ended_ && !has_room()) {
      waiting_.push_back(std::move(f));
      return;
    }
  }
  f();
}

bool ws_link::has_room() const {
  return frames_ < (max_frames_ + 1) / 2 && bytes_ < max_bytes_ / 2;
}

void ws_link::written(std::size_t n) {
  std::vector<std::function<void()>> ready;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    bytes_ = n > bytes_ ? 0 : bytes_ - n;
    if (frames_ > 0) --frames_;
    if (has_room()) ready.swap(waiting_);
  }
  for (auto& f : ready) f();
}

void ws_link::ended() {
  std::vector<std::function<void()>> ready;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    open_ = false;
    ended_ = true;
    ready.swap(waiting_);
  }
  for (auto& f : ready) f();
}

// -- ws_session ---------------------------------------------------------------------------------

ws_session::ws_session(tcp::socket socket, bhttp::request<bhttp::empty_body> upgrade,
                       std::shared_ptr<request> req, std::shared_ptr<ws_endpoint> endpoint,
                       std::shared_ptr<const edge_context> ctx, std::shared_ptr<void> shell)
    : ws_(std::move(socket)),
      upgrade_(std::move(upgrade)),
      req_(std::move(req)),
      endpoint_(std::move(endpoint)),
      ctx_(std::move(ctx)),
      shell_(std::move(shell)),
      write_timer_(ws_.get_executor()),
      close_timer_(ws_.get_executor()) {}

ws_session::~ws_session() {
  if (link_) link_->ended();
}

void ws_session::run() {
  net::dispatch(ws_.get_executor(), [self = shared_from_this()] {
    const auto& s = self->ctx_->settings;
    self->link_ = std::make_shared<ws_link>(self->weak_from_this(), s.ws_send_queue_bytes,
                                            s.ws_send_queue_frames);
    boost::beast::get_lowest_layer(self->ws_).expires_never();  // the stream's own timeouts rule
    websocket::stream_base::timeout t;
    t.handshake_timeout = handshake_timeout;
    t.idle_timeout = to_steady(s.ws_idle_timeout);
    t.keep_alive_pings = true;  // a ping after half the idle timeout without data
    self->ws_.set_option(t);
    self->ws_.read_message_max(s.max_query_body_bytes);
    self->ws_.set_option(websocket::stream_base::decorator(
        [cid = self->req_->correlation_id](websocket::response_type& res) {
          res.set(bhttp::field::server, "claude-agent-api");
          res.set("X-Correlation-ID", cid);
        }));
    self->ws_.async_accept(self->upgrade_,
                           [self](boost::system::error_code ec) { self->on_accept(ec); });
  });
}

void ws_session::on_accept(boost::system::error_code ec) {
  if (ec) return on_closed();
  accepted_ = true;
  try {
    handler_ = endpoint_->open(req_, link_, ctx_->limiter);
  } catch (...) {
    log_error("websocket endpoint threw on open", req_->correlation_id);
  }
  if (!handler_) return start_close(websocket::close_code::internal_error, "unavailable");
  do_read();
}

void ws_session::do_read() {
  if (closed_) return;
  ws_.async_read(buffer_, [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
    self->on_read(ec, n);
  });
}

void ws_session::on_read(boost::system::error_code ec, std::size_t) {
  if (ec) return on_closed();  // closed by the peer, timed out, too large (1009), or reset
  auto payload = boost::beast::buffers_to_string(buffer_.data());
  buffer_.consume(buffer_.size());
  if (!closing_ && handler_) {
    try {
      handler_->on_message(std::move(payload), ws_.got_binary());
    } catch (...) {
      log_error("websocket handler threw", req_->correlation_id);
    }
  }
  do_read();
}

void ws_session::post_send(std::string text) {
  net::post(ws_.get_executor(), [self = shared_from_this(), t = std::move(text)]() mutable {
    if (self->closing_ || self->closed_) {
      self->link_->written(t.size());
      return;
    }
    self->out_.push_back(std::move(t));
    self->do_write();
  });
}

void ws_session::post_close(uint16_t code, std::string reason) {
  net::post(ws_.get_executor(), [self = shared_from_this(), code, r = std::move(reason)]() mutable {
    self->start_close(code, r);
  });
}

void ws_session::do_write() {
  if (writing_ || out_.empty() || closed_ || !accepted_) return;
  writing_ = true;
  auto gen = ++write_gen_;
  write_timer_.expires_after(ctx_->options.write_stall);
  write_timer_.async_wait([self = shared_from_this(), gen](boost::system::error_code ec) {
    if (!ec && gen == self->write_gen_ && self->writing_) {
      boost::system::error_code ignored;
      boost::beast::get_lowest_layer(self->ws_).socket().close(ignored);  // stopped reading
    }
  });
  ws_.text(true);
  ws_.async_write(net::buffer(out_.front()),
                  [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
                    self->on_write(ec, n);
                  });
}

void ws_session::on_write(boost::system::error_code ec, std::size_t) {
  writing_ = false;
  ++write_gen_;
  write_timer_.cancel();
  if (!out_.empty()) {
    link_->written(out_.front().size());
    out_.pop_front();
  }
  if (ec) return on_closed();
  if (closing_) return do_close_handshake();
  do_write();
}

void ws_session::start_close(uint16_t code, const std::string& reason) {
  if (closing_ || closed_) return;
  closing_ = true;
  link_->ended();
  close_reason_.code = code;
  close_reason_.reason = reason.substr(0, 120);  // a close frame holds at most 123 bytes
  while (out_.size() > (writing_ ? 1u : 0u)) {   // unwritten messages are dropped
    link_->written(out_.back().size());
    out_.pop_back();
  }
  close_timer_.expires_after(ctx_->options.write_stall);
  close_timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (ec || self->closed_) return;
    boost::system::error_code ignored;
    boost::beast::get_lowest_layer(self->ws_).socket().close(ignored);  // no close handshake
  });
  if (!accepted_) return on_closed();
  if (!writing_) do_close_handshake();
}

void ws_session::do_close_handshake() {
  if (close_sent_ || closed_) return;
  close_sent_ = true;
  ws_.async_close(close_reason_,
                  [self = shared_from_this()](boost::system::error_code) { self->on_closed(); });
}

void ws_session::on_closed() {
  if (closed_) return;
  closed_ = true;
  closing_ = true;
  ++write_gen_;
  write_timer_.cancel();
  close_timer_.cancel();
  link_->ended();
  boost::system::error_code ignored;
  boost::beast::get_lowest_layer(ws_).socket().close(ignored);
  if (auto h = std::move(handler_)) {
    try {
      h->on_close();
    } catch (...) {
      log_error("websocket handler threw on close", req_->correlation_id);
    }
  }
  shell_.reset();  // the connection is over for the listener too
}

}  // namespace caa::http
