#include "transport/api/ws_connection.hpp"

#include "storage/bridge.hpp"
#include "transport/http/error_catalog.hpp"

#include <utility>

namespace caa::api {

// -- ws_event_sink ------------------------------------------------------------------------------

ws_event_sink::ws_event_sink(std::shared_ptr<http::ws_channel> channel, std::string session_id,
                             uint64_t after)
    : channel_(std::move(channel)), session_id_(std::move(session_id)), last_seq_(after) {}

bool ws_event_sink::deliver(uint64_t seq, std::string_view name, std::string_view data) {
  std::lock_guard<std::mutex> guard{mtx_};
  if (closed_ || !channel_->open()) return false;
  if (seq <= last_seq_) return true;  // already sent (replay and live overlap)
  if (!channel_->send(ws_event_frame(session_id_, seq, name, data))) {
    closed_ = true;  // the reader is too slow or gone: the connection closes (1008)
    return false;
  }
  last_seq_ = seq;
  return true;
}

bool ws_event_sink::open() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return !closed_ && channel_->open();
}

void ws_event_sink::close() {
  std::lock_guard<std::mutex> guard{mtx_};
  closed_ = true;
}

bool ws_event_sink::writable() const {
  return open() && channel_->writable();
}

void ws_event_sink::when_writable(std::function<void()> f) {
  channel_->when_writable(std::move(f));
}

void ws_event_sink::lagged() {
  close();
  channel_->close(http::ws_close::policy, "slow reader");
}

// -- ws_connection ------------------------------------------------------------------------------

ws_connection::ws_connection(detail::session_api_ptr api, http::principal caller,
                             std::string correlation_id, std::shared_ptr<http::ws_channel> channel,
                             http::rate_limiter& limiter)
    : api_(std::move(api)),
      caller_(std::move(caller)),
      tenant_id_(caller_.tenant_id()),
      correlation_id_(std::move(correlation_id)),
      policy_(make_decode_policy(*api_->ctx.cfg, caller_)),
      channel_(std::move(channel)),
      limiter_(limiter) {}

namespace {

/// The type of a decoded frame (a frame that did not decode counts as a `ping`: general class).
ws_frame_type type_of(const caf::expected<ws_frame>& decoded) {
  return decoded ? decoded->type : ws_frame_type::ping;
}

}  // namespace

void ws_connection::on_message(std::string payload, bool binary) {
  auto decoded = decode_ws_frame(payload, binary);
  auto type = type_of(decoded);  // read before the frame may move into the queue
  bool start = false;
  bool refused = false;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (closed_) return;
    if (waiting_.size() >= ws_max_waiting_frames) {
      refused = true;
    } else {
      waiting_.push_back(std::move(decoded));
      start = !std::exchange(deciding_, true);
    }
  }
  if (refused) {
    send_error(caa::with_retry_after(make_error(errc::rate_limited, "too many frames waiting"),
                                     std::chrono::seconds{1}),
               type, {});
    return;
  }
  if (start) decide_next();
}

void ws_connection::decide_next() {
  std::shared_ptr<caf::expected<ws_frame>> next;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (closed_ || waiting_.empty()) {
      deciding_ = false;
      return;
    }
    next = std::make_shared<caf::expected<ws_frame>>(std::move(waiting_.front()));
    waiting_.pop_front();
  }
  auto type = type_of(*next);
  auto cls = type == ws_frame_type::prompt ? http::route_class::query : http::route_class::general;
  auto self = shared_from_this();
  limiter_.acquire(caller_, cls, [self, next, type](http::rate_decision d) {
    if (d.allowed) {
      self->dispatch(std::move(*next));
    } else {
      self->send_error(caa::with_retry_after(make_error(errc::rate_limited),
                                             std::chrono::duration<double>{d.retry_after_seconds}),
                       type, {});
    }
    self->decide_next();
  });
}

void ws_connection::dispatch(caf::expected<ws_frame> decoded) {
  if (!decoded) {
    channel_->send(ws_error_frame(decoded.error(), {}, {}, correlation_id_));
    return;
  }
  auto& f = *decoded;
  switch (f.type) {
    case ws_frame_type::ping:
      channel_->send(ws_pong_frame());
      return;
    case ws_frame_type::prompt:
      return on_prompt(std::move(f));
    case ws_frame_type::interrupt:
      return on_interrupt(f);
    case ws_frame_type::subscribe:
      return on_subscribe(f);
    case ws_frame_type::answer:
      return on_answer(f);
    case ws_frame_type::control:
      return on_control(f);
  }
}

void ws_connection::on_close() {
  std::map<std::string, std::shared_ptr<ws_event_sink>> subs;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    closed_ = true;
    subs.swap(subscriptions_);
    waiting_.clear();
  }
  for (auto& [id, sink] : subs) sink->close();  // the sessions drop them; turns run on
}

std::optional<std::string> ws_connection::target_of(const ws_frame& f) {
  if (f.session_id) return f.session_id;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (!last_session_.empty()) return last_session_;
  }
  send_error(caa::validation_error({{"session_id",
                                     "is required: no session on this connection "
                                     "yet"}}),
             f.type, {});
  return std::nullopt;
}

std::shared_ptr<ws_event_sink> ws_connection::new_sink(const std::string& id, uint64_t after,
                                                       ws_frame_type for_type) {
  auto sink = std::make_shared<ws_event_sink>(channel_, id, after);
  std::shared_ptr<ws_event_sink> old;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (closed_) return nullptr;
    for (auto it = subscriptions_.begin(); it != subscriptions_.end();)
      it = it->second->open() ? std::next(it) : subscriptions_.erase(it);
    auto it = subscriptions_.find(id);
    if (it != subscriptions_.end()) {
      old = std::move(it->second);
      it->second = sink;
    } else if (subscriptions_.size() < ws_max_subscriptions) {
      subscriptions_.emplace(id, sink);
    } else {
      sink = nullptr;
    }
  }
  if (old) old->close();
  if (!sink)
    send_error(caa::validation_error({{"session_id", "too many sessions on one connection"}}),
               for_type, id);
  return sink;
}

void ws_connection::remember(const std::string& id) {
  std::lock_guard<std::mutex> guard{mtx_};
  last_session_ = id;
}

void ws_connection::send_error(const caf::error& e, ws_frame_type for_type,
                               std::string_view session_id) {
  channel_->send(ws_error_frame(e, to_string(for_type), session_id, correlation_id_));
}

void ws_connection::send_ack(ws_frame_type for_type, std::string_view session_id) {
  channel_->send(ws_ack_frame(to_string(for_type), session_id));
}

void ws_connection::on_interrupt(const ws_frame& f) {
  auto id = target_of(f);
  if (!id) return;
  auto self = shared_from_this();
  auto fail = [self, id](const caf::error& e) {
    self->send_error(e, ws_frame_type::interrupt, *id);
  };
  detail::find_session(
      *api_, tenant_id_, *id,
      [self, id, fail](session_actor actor) {
        caa::async_request<bool>(
            *self->api_->ctx.sys, std::move(actor), self->api_->ctx.request_timeout,
            [self, id](bool) { self->send_ack(ws_frame_type::interrupt, *id); }, fail,
            atom::interrupt_v);
      },
      fail);
}

void ws_connection::on_subscribe(const ws_frame& f) {
  auto id = *f.session_id;  // required by the decoder
  auto after = f.after;
  auto self = shared_from_this();
  detail::find_session(
      *api_, tenant_id_, id,
      [self, id, after](session_actor actor) {
        auto sink = self->new_sink(id, after, ws_frame_type::subscribe);
        if (!sink) return;
        self->remember(id);
        self->send_ack(ws_frame_type::subscribe, id);
        detail::replay_and_subscribe(self->api_, self->tenant_id_, id, std::move(sink), after,
                                     std::move(actor));
      },
      [self, id](const caf::error& e) { self->send_error(e, ws_frame_type::subscribe, id); });
}

}  // namespace caa::api
