// The CLI's stdout is the tenant's input: a flood of `hook_callback` requests must not open one
// webhook call per request. A loopback receiver accepts connections and never answers, so every
// call stays in flight; the session keeps at most `max_hooks_in_flight` of them.

#include "tests/unit/session_machine_fixture.hpp"

#include "transport/outbound/client.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <atomic>
#include <list>

using namespace caa;
using namespace session_machine;
using namespace std::chrono_literals;

namespace {

/// Accepts connections on 127.0.0.1 and holds them without a byte of answer.
class silent_receiver {
 public:
  explicit silent_receiver(boost::asio::io_context& io)
      : acceptor_{io, {boost::asio::ip::make_address("127.0.0.1"), 0}} {
    accept();
  }
  uint16_t port() const { return acceptor_.local_endpoint().port(); }
  int accepted() const { return accepted_.load(); }

 private:
  void accept() {
    acceptor_.async_accept([this](boost::system::error_code ec, boost::asio::ip::tcp::socket s) {
      if (ec) return;
      ++accepted_;
      held_.push_back(std::move(s));
      accept();
    });
  }
  boost::asio::ip::tcp::acceptor acceptor_;
  std::list<boost::asio::ip::tcp::socket> held_;
  std::atomic<int> accepted_{0};
};

}  // namespace

TEST_F(session_machine_test, a_flood_of_hook_callbacks_keeps_at_most_eight_webhook_calls) {
  boost::asio::io_context net;
  auto guard = boost::asio::make_work_guard(net);
  silent_receiver receiver{net};
  std::thread runner{[&] { net.run(); }};
  caa::outbound::egress_policy policy;
  policy.allow_cidrs = {"127.0.0.1/32"};
  policy.allow_http = true;
  auto d = deps();
  d.webhooks = caa::outbound::client::make(net, policy);
  auto s = make_session(identity(), d);
  auto t = std::make_shared<turn_spec>(*spec());
  t->hooks_json = R"({"PreToolUse":[{"url":"http://127.0.0.1:)" + std::to_string(receiver.port()) +
                  R"(/hook","timeout":60}]})";
  ASSERT_ACCEPTED(run(s, t));
  line(s, 1, init_line);
  for (int i = 0; i < 20; ++i)
    line(s, 1,
         R"({"type":"control_request","request_id":"hook-req-)" + std::to_string(i) +
             R"(","request":{"subtype":"hook_callback","callback_id":"hook-0",)"
             R"("input":{"hook_event_name":"PreToolUse","tool_name":"Bash"}}})");
  EXPECT_TRUE(eventually([&] { return receiver.accepted() >= 8; })) << receiver.accepted();
  std::this_thread::sleep_for(std::chrono::milliseconds{500});
  EXPECT_EQ(receiver.accepted(), 8) << "more webhook calls than the bound were opened";
  net.stop();
  runner.join();
}
