// The stages after routing: authentication, rate limit, parameter validation, body, handler.

#include "transport/http/http_session.hpp"

#include "transport/http/log_shim.hpp"
#include "transport/http/uri.hpp"

#include <boost/asio/post.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/read.hpp>

#include <cctype>

namespace caa::http {

namespace {

/// `x` without leading and trailing spaces and tabs.
std::string_view trim(std::string_view x) {
  while (!x.empty() && (x.front() == ' ' || x.front() == '\t')) x.remove_prefix(1);
  while (!x.empty() && (x.back() == ' ' || x.back() == '\t')) x.remove_suffix(1);
  return x;
}

/// The key presented in `X-API-Key` or `Authorization: Bearer <key>`; empty when none or when
/// the headers are ambiguous (several `X-API-Key`).
std::string presented_key(const bhttp::request_header<>& h) {
  auto api_keys = h.count("X-API-Key");
  if (api_keys > 1) return {};
  if (api_keys == 1) return std::string{trim(h["X-API-Key"])};
  auto auth = trim(h[bhttp::field::authorization]);
  constexpr std::string_view scheme = "bearer ";
  if (auth.size() <= scheme.size() || !boost::beast::iequals(auth.substr(0, scheme.size()), scheme))
    return {};
  return std::string{trim(auth.substr(scheme.size()))};
}

/// The credential of `Authorization: Bearer <token>`, if that is the header's form.
std::optional<secret> bearer_of(const bhttp::request_header<>& h) {
  auto auth = trim(h[bhttp::field::authorization]);
  constexpr std::string_view scheme = "bearer ";
  if (h.count(bhttp::field::authorization) != 1 || auth.size() <= scheme.size() ||
      !boost::beast::iequals(auth.substr(0, scheme.size()), scheme))
    return std::nullopt;
  return secret{std::string{trim(auth.substr(scheme.size()))}};
}

/// Whether a request header is withheld from handlers (credentials).
bool is_withheld(std::string_view lower_name) {
  return lower_name == "authorization" || lower_name == "x-api-key";
}

/// Whether `ec` means the client went away (as opposed to sending garbage).
bool is_disconnect(boost::system::error_code ec) {
  return ec == net::error::eof || ec == net::error::connection_reset ||
         ec == net::error::broken_pipe || ec == bhttp::error::partial_message ||
         ec == bhttp::error::end_of_stream || ec == net::error::operation_aborted;
}

/// Converts a settings duration to the timer's.
std::chrono::steady_clock::duration to_steady(seconds_d d) {
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(d);
}

}  // namespace

std::size_t http_session::body_limit() const {
  const auto& s = ctx_->settings;
  return ex_.info && ex_.info->cls == route_class::query ? s.max_query_body_bytes
                                                         : s.max_body_bytes;
}

void http_session::do_authenticate() {
  auto key = presented_key(header_parser_->get());
  // An address that failed too often is answered before any lookup, unless its key proved
  // itself a short while ago (the lookup still decides for that one).
  double retry_after = 0;
  if (ctx_->throttle &&
      ctx_->throttle->blocked(ex_.client_ip, std::chrono::steady_clock::now(), retry_after) &&
      (key.empty() || !ctx_->auth.vouched(key)))
    return send_error(with_retry_after(
        make_error(errc::rate_limited, "too many failed authentications from this address"),
        std::chrono::duration<double>{retry_after}));
  if (key.empty() && upgrade_route()) return do_authenticate_ticket();
  if (key.empty())
    return fail_authentication(make_error(errc::unauthenticated, "no key presented"));
  phase_ = phase::stages;
  arm_deadline(to_steady(ctx_->settings.request_timeout));
  auto cb = [weak = weak_from_this(), seq = ex_.seq, exec = stream_.get_executor()](
                std::optional<principal> p, caf::error err) mutable {
    net::post(exec, [weak, seq, p = std::move(p), err = std::move(err)]() mutable {
      if (auto self = weak.lock()) self->on_authenticated(seq, std::move(p), err);
    });
  };
  try {
    ctx_->auth.authenticate(std::move(key), std::move(cb));
  } catch (...) {
    send_error(make_error(errc::internal, "authenticator threw"));
  }
}

void http_session::on_authenticated(uint64_t seq, std::optional<principal> p,
                                    const caf::error& err) {
  if (seq != ex_.seq || phase_ != phase::stages)
    return;  // too late: the stage deadline answered already
  if (err) return fail_authentication(err);
  if (!p) return fail_authentication(make_error(errc::unauthenticated, "no principal"));
  ex_.tenant_id = p->tenant_id();
  auto needed = ex_.info->policy == route_policy::requires_admin ? scope::admin : scope::agent;
  if (!p->has(needed)) return send_error(make_error(errc::forbidden));
  ex_.caller = std::move(p);
  do_rate_limit();
}

void http_session::fail_authentication(const caf::error& e) {
  if (ctx_->throttle && errc_of(e) == errc::unauthenticated)
    ctx_->throttle->failed(ex_.client_ip, std::chrono::steady_clock::now());
  send_error(e);
}

void http_session::do_rate_limit() {
  if (!ex_.caller) return check_params();  // public route: no key, no bucket
  phase_ = phase::stages;
  auto cb = [weak = weak_from_this(), seq = ex_.seq,
             exec = stream_.get_executor()](rate_decision d) {
    net::post(exec, [weak, seq, d] {
      if (auto self = weak.lock()) self->on_rate_decided(seq, d);
    });
  };
  try {
    ctx_->limiter.acquire(*ex_.caller, ex_.info->cls, std::move(cb));
  } catch (...) {
    send_error(make_error(errc::internal, "rate limiter threw"));
  }
}

void http_session::on_rate_decided(uint64_t seq, rate_decision d) {
  if (seq != ex_.seq || phase_ != phase::stages) return;
  if (!d.allowed)
    return send_error(with_retry_after(make_error(errc::rate_limited),
                                       std::chrono::duration<double>{d.retry_after_seconds}));
  check_params();
}

void http_session::check_params() {
  if (ex_.matched.status == match_status::invalid_params)
    return send_error(validation_error(std::move(ex_.matched.errors)));
  do_read_body();
}

void http_session::do_read_body() {
  if (!ex_.body_pending) return do_dispatch();
  if (boost::beast::iequals(trim(header_parser_->get()[bhttp::field::expect]), "100-continue"))
    queue(out_item{"HTTP/1.1 100 Continue\r\n\r\n"});
  body_parser_.emplace(std::move(*header_parser_));
  body_parser_->body_limit(body_limit());
  body_parser_->on_chunk_header(chunk_header_guard_);
  phase_ = phase::body;
  arm_deadline(to_steady(ctx_->settings.body_timeout));
  bhttp::async_read(stream_, buffer_, *body_parser_,
                    [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
                      self->on_body_read(ec, n);
                    });
}

void http_session::on_body_read(boost::system::error_code ec, std::size_t) {
  if (phase_ != phase::body) return;  // the body deadline answered already
  if (ec == bhttp::error::body_limit) {
    ex_.close_after = true;
    return send_error(make_error(errc::payload_too_large));
  }
  if (ec && is_disconnect(ec)) return do_close();
  if (ec) return reject(make_error(errc::bad_request, "body framing"));
  ex_.body_pending = false;
  do_dispatch();
}

std::shared_ptr<request> http_session::make_request() {
  const bhttp::request_header<>& h =
      body_parser_ ? static_cast<const bhttp::request_header<>&>(body_parser_->get())
                   : static_cast<const bhttp::request_header<>&>(header_parser_->get());
  auto req = std::make_shared<request>();
  req->method = ex_.method;
  auto target = std::string_view{h.target()};
  auto q = target.find('?');
  auto raw_path = target.substr(0, q);
  req->path = percent_decode(raw_path, decode_mode::path_segment).value_or(std::string{raw_path});
  if (q != std::string_view::npos) req->query = std::string{target.substr(q + 1)};
  req->route_template = ex_.route;
  req->params = std::move(ex_.matched.params);
  for (const auto& f : h) {
    std::string name{f.name_string()};
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (is_withheld(name)) continue;
    auto [it, fresh] = req->headers.try_emplace(std::move(name), std::string{f.value()});
    if (!fresh) (it->second += ", ") += std::string{f.value()};
  }
  if (body_parser_) req->body = std::move(body_parser_->get().body());
  req->correlation_id = ex_.correlation_id;
  req->client_ip = ex_.client_ip;
  req->caller = ex_.caller;
  if (ex_.info && ex_.info->policy == route_policy::public_route) req->bearer = bearer_of(h);
  req->received = ex_.started;
  return req;
}

void http_session::do_dispatch() {
  auto req = make_request();
  if (auto* ws = upgrade_route(); ws && hand_over(*ws, req)) return;  // now a WebSocket
  phase_ = phase::handler;
  awaiting_ = ex_.seq;
  arm_deadline(to_steady(ex_.info && ex_.info->cls == route_class::query
                             ? ctx_->settings.query_request_timeout
                             : ctx_->settings.request_timeout));
  try {
    (*ex_.target)(std::move(req),
                  make_responder(weak_from_this(), ex_.seq, ctx_->options.stream_budget_bytes));
  } catch (...) {
    log_error("handler threw", ex_.correlation_id);  // exception text stays out: it may hold data
    if (awaiting_ == ex_.seq && phase_ == phase::handler) {
      awaiting_ = 0;
      send_error(make_error(errc::internal, "handler threw"));
    }
  }
}

}  // namespace caa::http
