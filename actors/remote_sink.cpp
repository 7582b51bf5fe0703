// Both ends of a subscription that crosses two nodes (remote_sink.hpp).

#include "actors/remote_sink.hpp"

#include <caf/all.hpp>

#include <algorithm>
#include <functional>
#include <mutex>
#include <string>

namespace caa {

namespace {

using namespace std::chrono_literals;

// -- the owner node's end ------------------------------------------------------------------------

/// The subscriber a session delivers to (on the session's thread); the credit actor reports the
/// relay's acks and its end (on CAF threads): every field is behind the mutex.
class remote_sink final : public event_sink {
 public:
  explicit remote_sink(sink_relay_actor relay) : relay_(std::move(relay)) {}
  /// Dropped without `close` (its session went away): the relay ends the client's stream, which
  /// resumes with Last-Event-ID.
  ~remote_sink() override { end(false); }
  remote_sink(const remote_sink&) = delete;
  remote_sink& operator=(const remote_sink&) = delete;

  void start(sink_credit_actor credit) {
    credit_ = std::move(credit);
    caf::send_as(credit_, relay_, atom::ready_v, caf::actor_cast<caf::actor>(credit_));
  }

  bool deliver(uint64_t seq, std::string_view name, std::string_view data) override {
    {
      std::lock_guard<std::mutex> g{mtx_};
      if (!open_) return false;
      ++in_flight_;
    }
    // Sent as the credit actor: the relay acks to it, and one thread (the session's) sends all
    // of a subscription's messages, so they arrive in order.
    caf::send_as(credit_, relay_, atom::deliver_v, seq, std::string{name}, std::string{data});
    return true;
  }

  bool open() const override {
    std::lock_guard<std::mutex> g{mtx_};
    return open_;
  }

  void close() override { end(false); }

  void lagged() override { end(true); }

  bool writable() const override {
    std::lock_guard<std::mutex> g{mtx_};
    return open_ && in_flight_ < relay_window;
  }

  // NOLINTNEXTLINE(performance-unnecessary-value-param)
  void when_writable(std::function<void()> f) override {
    {
      std::lock_guard<std::mutex> g{mtx_};
      if (open_ && in_flight_ >= relay_window) {
        waiting_ = std::move(f);
        return;
      }
    }
    f();
  }

  /// The relay took `n` events.
  void acked(uint32_t n) {
    std::function<void()> f;
    {
      std::lock_guard<std::mutex> g{mtx_};
      in_flight_ -= std::min(n, in_flight_);
      if (waiting_ && in_flight_ < relay_window) f = std::exchange(waiting_, nullptr);
    }
    if (f) f();
  }

  /// The relay (its node, the link, or its client) is gone.
  void gone() {
    std::function<void()> f;
    {
      std::lock_guard<std::mutex> g{mtx_};
      open_ = false;
      f = std::exchange(waiting_, nullptr);
    }
    if (f) f();
  }

 private:
  void end(bool lagged) {
    std::function<void()> f;
    {
      std::lock_guard<std::mutex> g{mtx_};
      if (!open_) return;
      open_ = false;
      f = std::exchange(waiting_, nullptr);
    }
    // The relay ends on `close`, after every event sent before it (one sender: in order), and
    // the credit actor follows through its monitor. Ending the credit actor here raced: its
    // down message takes another path across the link than the events (BASP's workers order
    // messages, not the end of a proxy) and could end the relay before the last events arrived.
    caf::send_as(credit_, relay_, atom::close_v, lagged);
    if (f) f();
  }

  sink_relay_actor relay_;
  sink_credit_actor credit_;
  mutable std::mutex mtx_;
  bool open_ = true;
  uint32_t in_flight_ = 0;
  std::function<void()> waiting_;
};

struct credit_state {
  static inline const char* name = "caa.sink_credit";
};

/// The credit actor holds its sink weakly: a sink its session dropped without `close` ends
/// (its destructor closes the relay) instead of living on with the credit actor.
sink_credit_actor::behavior_type sink_credit(sink_credit_actor::stateful_pointer<credit_state> self,
                                             const std::weak_ptr<remote_sink>& sink,
                                             const sink_relay_actor& relay) {
  self->monitor(relay);
  self->set_down_handler([self, sink](const caf::down_msg&) {
    if (auto s = sink.lock()) s->gone();
    self->quit();
  });
  return {
      [sink](atom::ack, uint32_t n) {
        if (auto s = sink.lock()) s->acked(n);
      },
  };
}

// -- the front node's end ------------------------------------------------------------------------

struct relay_state {
  static inline const char* name = "caa.sink_relay";
  event_sink_ptr sink;
  caf::actor credit;     ///< the owner's end (set by `ready`)
  uint32_t unacked = 0;  ///< events taken since the last ack
  bool waiting = false;  ///< the subscriber was full: an ack waits for its room
};

using relay_ptr = sink_relay_actor::stateful_pointer<relay_state>;

constexpr uint64_t room_again = 0;
constexpr uint64_t check_open = 1;

/// Ends the local subscription (the owner ended it or went away) and the relay.
void end_stream(relay_ptr self, bool lagged) {
  auto& sink = self->state.sink;
  if (sink) lagged ? sink->lagged() : sink->close();
  self->quit();
}

/// Acks what the subscriber took, once enough of it came or the subscriber had to make room.
void maybe_ack(relay_ptr self, bool force) {
  auto& st = self->state;
  if (st.waiting || !st.credit || st.unacked == 0) return;
  if (!force && st.unacked < relay_ack_every) return;
  if (!st.sink->writable()) {
    st.waiting = true;
    auto weak = caf::actor_cast<caf::weak_actor_ptr>(self->ctrl());
    st.sink->when_writable([weak] {
      if (auto strong = weak.lock())
        caf::anon_send(caf::actor_cast<sink_relay_actor>(strong), atom::sink_ready_v, room_again);
    });
    return;
  }
  self->send(caf::actor_cast<sink_credit_actor>(st.credit), atom::ack_v, st.unacked);
  st.unacked = 0;
}

sink_relay_actor::behavior_type sink_relay(relay_ptr self, const event_sink_ptr& sink) {
  self->state.sink = sink;
  self->set_down_handler([self](const caf::down_msg& dm) {
    if (self->state.credit && dm.source == self->state.credit.address()) end_stream(self, false);
  });
  // A client that leaves while no event comes is noticed here: the owner learns it from the
  // relay's end.
  self->delayed_send(self, 5s, atom::sink_ready_v, check_open);
  return {
      [self](atom::ready, const caf::actor& credit) {
        self->state.credit = credit;
        self->monitor(credit);
      },
      [self](atom::deliver, uint64_t seq, const std::string& name, const std::string& data) {
        auto& st = self->state;
        if (!st.sink->deliver(seq, name, data)) {
          st.sink->close();
          self->quit();  // the owner's credit actor sees it and drops the subscription
          return;
        }
        ++st.unacked;
        maybe_ack(self, false);
      },
      [self](atom::close, bool lagged) { end_stream(self, lagged); },
      [self](atom::sink_ready, uint64_t what) {
        auto& st = self->state;
        if (!st.sink->open()) return self->quit();
        if (what == check_open) {
          self->delayed_send(self, 5s, atom::sink_ready_v, check_open);
          return;
        }
        st.waiting = false;
        maybe_ack(self, true);
      },
  };
}

}  // namespace

sink_relay_actor spawn_sink_relay(caf::actor_system& sys, event_sink_ptr sink) {
  return sys.spawn(sink_relay, std::move(sink));
}

event_sink_ptr make_remote_sink(caf::actor_system& sys, const sink_relay_actor& relay) {
  auto sink = std::make_shared<remote_sink>(relay);
  sink->start(sys.spawn(sink_credit, std::weak_ptr<remote_sink>{sink}, relay));
  return sink;
}

}  // namespace caa
