// The responder and stream link handed to handlers: thread-safe, answer once, never hang.

#include "transport/http/http_session.hpp"

#include <atomic>

namespace caa::http {

namespace {

/// Feeds one stream's data to its session (any thread; the session posts to its strand).
class stream_link final : public stream_transport {
 public:
  stream_link(std::weak_ptr<http_session> session, uint64_t seq,
              std::shared_ptr<stream_outbox> outbox)
      : session_(std::move(session)), seq_(seq), outbox_(std::move(outbox)) {}

  bool transmit(std::string chunk) override {
    auto s = session_.lock();
    if (!s) return false;
    switch (outbox_->add(std::move(chunk))) {
      case stream_outbox::outcome::sent:
        return true;
      case stream_outbox::outcome::post:
        s->post_stream_data(seq_, outbox_);
        return false;
      case stream_outbox::outcome::queued:
        return false;
    }
    return false;
  }

  void finish() override {
    if (auto s = session_.lock()) s->post_stream_finish(seq_);
  }

  void abort() override {
    if (auto s = session_.lock()) s->post_stream_abort(seq_);
  }

 private:
  std::weak_ptr<http_session> session_;
  uint64_t seq_;
  std::shared_ptr<stream_outbox> outbox_;
};

/// Answers request `seq` of a session exactly once; a responder dropped unanswered sends a 500.
class session_responder final : public responder {
 public:
  session_responder(std::weak_ptr<http_session> session, uint64_t seq, std::size_t budget)
      : session_(std::move(session)), seq_(seq), budget_(budget) {}

  ~session_responder() override {
    if (answered_.exchange(true)) return;
    if (auto s = session_.lock())
      s->post_failure(seq_, make_error(errc::internal, "responder dropped without an answer"));
  }

  void send(response r) override {
    if (answered_.exchange(true)) return;
    if (auto s = session_.lock()) s->post_answer(seq_, std::move(r));
  }

  void fail(caf::error e) override {
    if (answered_.exchange(true)) return;
    if (auto s = session_.lock()) s->post_failure(seq_, std::move(e));
  }

  std::shared_ptr<stream_sink> stream(
      unsigned status, std::string content_type,
      std::vector<std::pair<std::string, std::string>> headers) override {
    auto outbox = std::make_shared<stream_outbox>();
    auto link = std::make_shared<stream_link>(session_, seq_, outbox);
    auto sink = std::make_shared<bounded_sink>(link, budget_);
    auto s = session_.lock();
    if (answered_.exchange(true) || !s) {
      sink->ended();  // a second answer, or the connection is gone: a closed sink
      return sink;
    }
    response head{status, {}, std::move(content_type), std::move(headers)};
    s->post_stream(seq_, std::move(head), sink, std::move(link), std::move(outbox));
    return sink;
  }

 private:
  std::weak_ptr<http_session> session_;
  uint64_t seq_;
  std::size_t budget_;
  std::atomic<bool> answered_{false};
};

}  // namespace

std::shared_ptr<responder> make_responder(std::weak_ptr<http_session> session, uint64_t seq,
                                          std::size_t budget) {
  return std::make_shared<session_responder>(std::move(session), seq, budget);
}

}  // namespace caa::http
