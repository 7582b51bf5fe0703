#pragma once

// Internal to the OpenAI-compatible routes (`openai_chat_routes.cpp`,
// `openai_response_routes.cpp`): the event sinks that render a turn for an OpenAI client (a
// stream of rendered frames, or one answer when the turn is done) and the small steps both use.

#include "transport/api/openai_request.hpp"
#include "transport/api/session_flow.hpp"
#include "transport/api/sse_sink.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

namespace caa::api::detail {

using req_ptr = std::shared_ptr<http::request>;
using res_ptr = std::shared_ptr<http::responder>;

/// Now, in unix seconds (the `created` of OpenAI objects).
int64_t unix_now();

/// A uuid without its dashes (ids of completions and responses).
std::string hex_of(std::string_view uuid);

/// Answers `e` in OpenAI's error shape.
void send_error(const res_ptr& res, const openai::request_error& e);

/// `data: <json>\n\n`.
std::string sse_data(std::string_view json);

/// Renders one API event into output; true once the turn is done.
using render_fn =
    std::function<bool(std::string_view name, std::string_view data, std::string& out)>;

/// Streams rendered frames into an HTTP stream and ends it after the turn's `done`.
class rendering_stream_sink final : public resumable_sink {
 public:
  rendering_stream_sink(std::shared_ptr<http::stream_sink> stream, render_fn render)
      : stream_(std::move(stream)), render_(std::move(render)) {}
  ~rendering_stream_sink() override {
    if (stream_->open()) stream_->close();
  }
  rendering_stream_sink(const rendering_stream_sink&) = delete;
  rendering_stream_sink& operator=(const rendering_stream_sink&) = delete;

  /// Writes frames made before any event (a first chunk).
  bool push(std::string frames) {
    std::lock_guard<std::mutex> guard{mtx_};
    return frames.empty() || stream_->push(std::move(frames));
  }

  bool deliver(uint64_t seq, std::string_view name, std::string_view data) override {
    std::lock_guard<std::mutex> guard{mtx_};
    if (closed_ || !stream_->open()) return false;
    if (seq <= last_seq_) return true;
    last_seq_ = seq;
    std::string frames;
    bool done = render_(name, data, frames);
    if (!frames.empty() && !stream_->push(std::move(frames))) {
      closed_ = true;
      return false;
    }
    if (done) {
      closed_ = true;
      stream_->close();
    }
    return true;
  }
  bool open() const override {
    std::lock_guard<std::mutex> guard{mtx_};
    return !closed_ && stream_->open();
  }
  void close() override {
    std::lock_guard<std::mutex> guard{mtx_};
    closed_ = true;
    stream_->close();
  }
  bool writable() const override { return open() && stream_->writable(); }
  void when_writable(std::function<void()> f) override { stream_->when_writable(std::move(f)); }
  uint64_t last_seq() const override {
    std::lock_guard<std::mutex> guard{mtx_};
    return last_seq_;
  }

 private:
  mutable std::mutex mtx_;
  std::shared_ptr<http::stream_sink> stream_;
  render_fn render_;
  uint64_t last_seq_ = 0;
  bool closed_ = false;
};

/// Collects a turn and answers once, when it is done (`answer`), or with SERVICE_UNAVAILABLE
/// when the session drops it first.
class collecting_answer_sink final : public event_sink {
 public:
  using answer_fn = std::function<void(const res_ptr&)>;

  collecting_answer_sink(res_ptr res, render_fn feed, answer_fn answer)
      : res_(std::move(res)), feed_(std::move(feed)), answer_(std::move(answer)) {}
  ~collecting_answer_sink() override { close(); }
  collecting_answer_sink(const collecting_answer_sink&) = delete;
  collecting_answer_sink& operator=(const collecting_answer_sink&) = delete;

  bool deliver(uint64_t seq, std::string_view name, std::string_view data) override {
    std::lock_guard<std::mutex> guard{mtx_};
    if (!res_) return false;
    if (seq <= last_seq_) return true;
    last_seq_ = seq;
    std::string ignored;
    if (!feed_(name, data, ignored)) return true;
    answer_(res_);
    res_.reset();
    return false;
  }
  bool open() const override {
    std::lock_guard<std::mutex> guard{mtx_};
    return res_ != nullptr;
  }
  void close() override {
    std::lock_guard<std::mutex> guard{mtx_};
    if (!res_) return;
    res_->fail(make_error(errc::unavailable, "the session dropped the subscriber"));
    res_.reset();
  }

 private:
  mutable std::mutex mtx_;
  res_ptr res_;
  render_fn feed_;
  answer_fn answer_;
  uint64_t last_seq_ = 0;
};

/// Opens the SSE answer of `res` and its sink (watched for key revocation); null when the client
/// is gone (the turn runs on).
std::shared_ptr<rendering_stream_sink> open_stream(const session_api& api, const req_ptr& req,
                                                   const res_ptr& res, render_fn render);

}  // namespace caa::api::detail
