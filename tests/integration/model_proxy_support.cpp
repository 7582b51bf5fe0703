#include "model_proxy_support.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>

namespace caa::sandbox::testing {

fake_upstream::fake_upstream(responder r)
    : acceptor_(io_, {net::ip::make_address("127.0.0.1"), 0}), responder_(std::move(r)) {
  net::co_spawn(io_, accept_loop(), net::detached);
  thread_ = std::thread([this] { io_.run(); });
}

fake_upstream::~fake_upstream() {
  io_.stop();
  thread_.join();
}

std::string fake_upstream::base_url() const {
  return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port());
}

std::vector<seen_request> fake_upstream::requests() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return requests_;
}

net::awaitable<bool> fake_upstream::wait_release(std::chrono::milliseconds limit) {
  net::steady_timer timer{co_await net::this_coro::executor};
  auto end = std::chrono::steady_clock::now() + limit;
  while (!released_ && std::chrono::steady_clock::now() < end) {
    timer.expires_after(5ms);
    co_await timer.async_wait(net::use_awaitable);
  }
  co_return released_.load();
}

net::awaitable<void> fake_upstream::accept_loop() {
  for (;;) {
    auto [ec, socket] = co_await acceptor_.async_accept(net::as_tuple(net::use_awaitable));
    if (ec) co_return;
    net::co_spawn(io_, serve(beast::tcp_stream{std::move(socket)}), net::detached);
  }
}

net::awaitable<void> fake_upstream::serve(beast::tcp_stream stream) {
  beast::flat_buffer buffer;
  for (;;) {
    http::request<http::string_body> req;
    stream.expires_after(30s);
    auto [ec, n] =
        co_await http::async_read(stream, buffer, req, net::as_tuple(net::use_awaitable));
    if (ec) co_return;
    seen_request seen{std::string{req.method_string()}, std::string{req.target()}, {}, req.body()};
    for (const auto& f : req) {
      std::string name{f.name_string()};
      std::transform(name.begin(), name.end(), name.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      seen.headers[name] = std::string{f.value()};
    }
    {
      std::lock_guard<std::mutex> guard{mtx_};
      requests_.push_back(std::move(seen));
    }
    stream.expires_never();
    co_await responder_(*this, stream, req);
    if (!req.keep_alive()) {
      beast::error_code ignored;
      stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
      co_return;
    }
  }
}

net::awaitable<void> fake_upstream::reply(beast::tcp_stream& s, unsigned status, std::string type,
                                          std::string body) {
  http::response<http::string_body> res{static_cast<http::status>(status), 11};
  res.set(http::field::content_type, type);
  res.set("request-id", "req_fake");
  res.body() = std::move(body);
  res.prepare_payload();
  co_await http::async_write(s, res, net::as_tuple(net::use_awaitable));
}

net::awaitable<void> fake_upstream::begin_chunked(beast::tcp_stream& s, std::string type) {
  http::response<http::empty_body> res{http::status::ok, 11};
  res.set(http::field::content_type, type);
  res.set("request-id", "req_fake");
  res.chunked(true);
  http::response_serializer<http::empty_body> sr{res};
  co_await http::async_write_header(s, sr, net::as_tuple(net::use_awaitable));
}

net::awaitable<void> fake_upstream::chunk(beast::tcp_stream& s, const std::string& data) {
  co_await net::async_write(s, http::make_chunk(net::buffer(data)),
                            net::as_tuple(net::use_awaitable));
}

net::awaitable<void> fake_upstream::end_chunked(beast::tcp_stream& s) {
  co_await net::async_write(s, http::make_chunk_last(), net::as_tuple(net::use_awaitable));
}

template <class Op>
beast::error_code unix_client::run(Op&& op) {
  beast::error_code result = net::error::would_block;
  op([&result](beast::error_code ec, std::size_t) { result = ec; });
  io_.restart();
  io_.run();
  return result;
}

unix_client::unix_client(const std::string& path, std::chrono::seconds timeout)
    : stream_(io_), timeout_(timeout) {
  stream_.expires_after(timeout_);
  connect_error_ = run([&](auto done) {
    stream_.async_connect(local::endpoint{path}, [done](beast::error_code ec) { done(ec, 0); });
  });
}

beast::error_code unix_client::send(http::request<http::string_body> req) {
  req.prepare_payload();
  stream_.expires_after(timeout_);
  return run([&](auto done) { http::async_write(stream_, req, done); });
}

beast::error_code unix_client::receive(http::response<http::string_body>& res, bool to_head) {
  parser_.emplace();
  parser_->body_limit(64u << 20);
  parser_->skip(to_head);
  return receive_rest(res);
}

beast::error_code unix_client::receive_until(std::string_view needle) {
  parser_.emplace();
  parser_->body_limit(64u << 20);
  stream_.expires_after(timeout_);
  for (;;) {
    auto ec = run([&](auto done) { http::async_read_some(stream_, buffer_, *parser_, done); });
    if (ec || parser_->is_done() || parser_->get().body().find(needle) != std::string::npos)
      return ec;
  }
}

beast::error_code unix_client::receive_rest(http::response<http::string_body>& res) {
  stream_.expires_after(timeout_);
  auto ec = run([&](auto done) { http::async_read(stream_, buffer_, *parser_, done); });
  res = parser_->release();
  return ec;
}

beast::error_code unix_client::read_to_end() {
  stream_.expires_after(timeout_);
  for (;;) {
    std::array<char, 4096> scratch;
    auto ec = run([&](auto done) { stream_.async_read_some(net::buffer(scratch), done); });
    if (ec) return ec;
  }
}

http::request<http::string_body> messages_request(std::string target, std::string key,
                                                  std::string body) {
  http::request<http::string_body> req{http::verb::post, target, 11};
  req.set(http::field::host, "localhost");
  if (!key.empty()) req.set("x-api-key", key);
  req.set("anthropic-version", "2023-06-01");
  req.set("anthropic-beta", "claude-code-20250219");
  req.set(http::field::content_type, "application/json");
  req.set(http::field::user_agent, "claude-cli/test");
  req.set(http::field::accept_encoding, "gzip, deflate, br");
  req.body() = std::move(body);
  req.prepare_payload();
  return req;
}

bool eventually(const std::function<bool()>& done, std::chrono::milliseconds limit) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= end) return done();
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

std::vector<std::string> sse_events() {
  return {
      "event: message_start\n"
      R"(data: {"type":"message_start","message":{"id":"msg_1","type":"message",)"
      R"("role":"assistant","model":"m","content":[],"stop_reason":null,)"
      R"("usage":{"input_tokens":25,"cache_creation_input_tokens":7,)"
      R"("cache_read_input_tokens":3,"output_tokens":1}}})"
      "\n\n",
      "event: content_block_start\n"
      R"(data: {"type":"content_block_start","index":0,"content_block":{"type":"text",)"
      R"("text":""}})"
      "\n\n",
      "event: content_block_delta\n"
      R"(data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta",)"
      R"("text":"Hello"}})"
      "\n\n",
      "event: content_block_stop\n"
      R"(data: {"type":"content_block_stop","index":0})"
      "\n\n",
      "event: message_delta\n"
      R"(data: {"type":"message_delta","delta":{"stop_reason":"end_turn"},)"
      R"("usage":{"output_tokens":42}})"
      "\n\n",
      "event: message_stop\n"
      R"(data: {"type":"message_stop"})"
      "\n\n"};
}

proxy_fixture::proxy_fixture() : work_(net::make_work_guard(io_)) {
  auto pattern = (std::filesystem::temp_directory_path() / "mproxy-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  dir_ = pattern;
  for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { io_.run(); });
}

proxy_fixture::~proxy_fixture() {
  proxy_.reset();
  work_.reset();
  io_.stop();
  for (auto& t : threads_) t.join();
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

model_proxy& proxy_fixture::start(std::string base_url,
                                  const std::function<void(upstream_config&)>& tune) {
  upstream_config cfg{std::move(base_url), std::string{real_key}};
  cfg.connect_timeout = 5s;
  cfg.idle_timeout = 20s;
  if (tune) tune(cfg);
  proxy_ = model_proxy::make(io_, std::move(cfg), [this](const usage_record& r) {
    std::lock_guard<std::mutex> guard{mtx_};
    records_.push_back(r);
  });
  return *proxy_;
}

std::shared_ptr<void> proxy_fixture::open(const std::string& name, const std::string& placeholder,
                                          const std::string& tenant, const std::string& session) {
  auto handle = proxy_->open_endpoint(socket(name), placeholder, tenant, session);
  EXPECT_TRUE(handle) << caf::to_string(handle.error());
  return handle ? *handle : nullptr;
}

std::vector<usage_record> proxy_fixture::records() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return records_;
}

bool proxy_fixture::await_records(std::size_t n) const {
  return eventually([&] { return records().size() >= n; });
}

}  // namespace caa::sandbox::testing
