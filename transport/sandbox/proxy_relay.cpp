// The relay of a model proxy response: the upstream's status and end-to-end headers go to the
// client at once, then each body chunk as soon as it is read (chunked toward the client unless
// the upstream gave a Content-Length), while the usage scanner reads along. One chunk in transit
// at a time: the next read starts only when the client took the last one.

#include "transport/sandbox/proxy_core.hpp"

#include <boost/asio/write.hpp>
#include <boost/beast/http/chunk_encode.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

namespace caa::sandbox::detail {

void proxy_connection::do_write_head() {
  auto& parser = *up_->parser;
  const auto& res = parser.get();
  usage_.status = res.result_int();
  head_ = {};
  head_.result(res.result_int());
  head_.reason(res.reason());
  copy_response_fields(res.base(), head_.base());
  auto length = parser.content_length();
  chunked_ = !length || parser.chunked();
  if (chunked_)
    head_.chunked(true);
  else
    head_.content_length(*length);
  head_.keep_alive(keep_alive_);
  scanner_.emplace(kind_of(res[bhttp::field::content_type]));
  responded_ = true;
  head_writer_.emplace(head_);
  client_.expires_after(core_->cfg.idle_timeout);
  bhttp::async_write_header(
      client_, *head_writer_,
      [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_write_head(ec); });
}

void proxy_connection::on_write_head(beast::error_code ec) {
  if (closed_) return;
  if (ec) return close();
  do_read_body();
}

void proxy_connection::do_read_body() {
  auto& parser = *up_->parser;
  if (parser.is_done()) return do_write_last();
  parser.get().body().data = up_->chunk.data();
  parser.get().body().size = up_->chunk.size();
  up_->lowest().expires_after(core_->cfg.idle_timeout);
  up_->with_stream([this, &parser](auto& stream) {
    bhttp::async_read_some(stream, up_->buffer, parser,
                           upstream_handler(&proxy_connection::on_read_body));
  });
}

void proxy_connection::on_read_body(beast::error_code ec, std::size_t) {
  if (ec == bhttp::error::need_buffer) ec = {};         // the chunk buffer is full
  if (ec) return upstream_failed("response body", ec);  // the client sees a cut response
  auto n = up_->chunk.size() - up_->parser->get().body().size;
  if (n == 0) return do_read_body();
  scanner_->feed({up_->chunk.data(), n});
  do_write_body(n);
}

void proxy_connection::do_write_body(std::size_t n) {
  client_.expires_after(core_->cfg.idle_timeout);
  auto done = [self = shared_from_this()](beast::error_code ec, std::size_t) {
    self->on_write_body(ec);
  };
  auto bytes = net::buffer(up_->chunk.data(), n);
  if (chunked_)
    net::async_write(client_, bhttp::make_chunk(bytes), std::move(done));
  else
    net::async_write(client_, bytes, std::move(done));
}

void proxy_connection::on_write_body(beast::error_code ec) {
  if (closed_) return;
  if (ec) return close();  // the client left: the upstream is closed with it
  do_read_body();
}

void proxy_connection::do_write_last() {
  if (!chunked_) return on_write_last({});
  client_.expires_after(core_->cfg.idle_timeout);
  net::async_write(
      client_, bhttp::make_chunk_last(),
      [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_write_last(ec); });
}

void proxy_connection::on_write_last(beast::error_code ec) {
  if (closed_) return;
  end_exchange();
  up_->close();
  up_.reset();
  if (ec || !keep_alive_) return close();
  do_read_request();
}

void proxy_connection::end_exchange() {
  if (!usage_pending_) return;
  usage_pending_ = false;
  if (scanner_) {
    scanner_->finish();
    const auto& u = scanner_->usage();
    usage_.input_tokens = u.input_tokens;
    usage_.output_tokens = u.output_tokens;
    usage_.cache_creation_input_tokens = u.cache_creation_input_tokens;
    usage_.cache_read_input_tokens = u.cache_read_input_tokens;
  }
  if (usage_.status == 0) usage_.status = 502;
  core_->record(usage_);
}

}  // namespace caa::sandbox::detail
