#include "storage/bridge.hpp"

#include "config/logging.hpp"

#include <caf/atom.hpp>
#include <caf/exit_reason.hpp>
#include <caf/optional.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <shared_mutex>
#include <unordered_map>
#include <utility>
#include <vector>

namespace caa {

namespace {

using time_point = caf::actor_clock::time_point;

/// The running edges, per actor system that runs them. Not CAF's registry of named actors: a
/// peer connected over CAF's networking can look those up by name and send them messages.
struct edge_directory {
  std::shared_mutex mutex;
  std::vector<std::pair<const caf::actor_system*, std::vector<caf::actor>>> systems;
};

edge_directory& directory() {
  static edge_directory d;
  return d;
}

/// Deadlines are rounded up to this grid, so that requests with one timeout share the timer.
constexpr auto timer_grid = std::chrono::milliseconds{10};

struct edge_state {
  std::unordered_map<uint64_t, time_point> deadlines;  ///< request id -> when it times out
  time_point timer_at = time_point::max();             ///< the earliest timer armed
  caf::optional<caf::error> stopping;  ///< set by the exit message: end once nothing is guarded
  static inline const char* name = "request_edge";
};
using edge_actor = caf::stateful_actor<edge_state>;

time_point on_grid(time_point t) {
  auto since = t.time_since_epoch();
  auto rest = since % timer_grid;
  return rest == time_point::duration::zero() ? t : t + (timer_grid - rest);
}

/// Times request `id` (the id its answer carries) out the way CAF's clock does: the error is
/// its answer, so its own handler runs (and CAF forgets it). An answer that arrives later finds
/// no handler.
void time_out(edge_actor* self, uint64_t id) {
  self->eq_impl(caf::message_id{id}, self->ctrl(), self->context(),
                caf::make_error(caf::sec::request_timeout));
}

void arm_timer(edge_actor* self, time_point at) {
  auto& st = self->state;
  if (at >= st.timer_at) return;
  st.timer_at = at;
  auto delay = std::max(at - self->clock().now(), time_point::duration::zero());
  self->delayed_send(self, delay, caf::tick_atom_v, at.time_since_epoch().count());
}

/// The timer armed for `due` rang: every request past its deadline fails, and the timer is
/// armed again for the earliest one left.
void on_timer(edge_actor* self, time_point due) {
  auto& st = self->state;
  if (due == st.timer_at) st.timer_at = time_point::max();
  auto now = self->clock().now();
  auto next = time_point::max();
  for (auto& [id, deadline] : st.deadlines) {
    if (deadline <= now) {
      deadline = time_point::max();  // failed once; its error is on the way
      time_out(self, id);
    } else {
      next = std::min(next, deadline);
    }
  }
  if (next != time_point::max()) arm_timer(self, next);
}

/// Ends the edge once it is stopping and guards no request any more.
void end_if_done(edge_actor* self) {
  auto& st = self->state;
  if (st.stopping && st.deadlines.empty()) self->quit(*st.stopping);
}

// (`index` only names the edge: CAF 0.17.6 spawns argument-less function actors with UB.)
caf::behavior request_edge(edge_actor* self, std::size_t /*index*/) {
  // An edge ends only when its owner stops it, and then once every request it guards has its
  // answer or its timeout, as the one-shot actors it replaces did.
  self->set_exit_handler([self](caf::exit_msg& msg) {
    auto& st = self->state;
    if (!st.stopping) st.stopping = std::move(msg.reason);
    end_if_done(self);
  });
  return {
      [self](const detail::request_job_ptr& job) {
        auto id = job->issue(self);
        auto now = self->clock().now();
        // A timeout too long to add to now (`timespan::max()`) never fires.
        auto deadline = job->timeout < time_point::max() - now - timer_grid
                            ? on_grid(now + job->timeout)
                            : time_point::max();
        self->state.deadlines.emplace(id.integer_value(), deadline);
        arm_timer(self, deadline);
      },
      [self](caf::tick_atom, int64_t due) {
        on_timer(self, time_point{time_point::duration{due}});
      },
  };
}

}  // namespace

namespace detail {

caf::actor edge_of(caf::actor_system& sys) {
  // Each thread takes the edges in turn, from its own starting point, so that the requests of
  // one busy thread spread over all of them.
  static std::atomic<unsigned> threads{0};
  thread_local unsigned turn = threads.fetch_add(1, std::memory_order_relaxed);
  auto& d = directory();
  std::shared_lock lock{d.mutex};
  for (const auto& [owner, edges] : d.systems)
    if (owner == &sys) return edges[turn++ % edges.size()];
  return {};
}

void hand_over(const caf::actor& edge, request_job_ptr job) {
  caf::anon_send(edge, std::move(job));
}

void edge_answered(caf::event_based_actor* self, caf::message_id id) noexcept {
  auto* edge = static_cast<edge_actor*>(self);
  edge->state.deadlines.erase(id.integer_value());
  end_if_done(edge);
}

void edge_callback_threw(const std::exception* e) noexcept {
  log::error("a request's callback threw; the request edge serves on",
             {.component = "bridge", .detail = e != nullptr ? e->what() : "unknown exception"});
}

}  // namespace detail

request_edges::request_edges(caf::actor_system& sys, std::size_t count) : sys_{&sys} {
  count = std::clamp<std::size_t>(count, 1, 64);
  for (std::size_t i = 0; i < count; ++i) edges_.push_back(sys.spawn(request_edge, i));
  auto& d = directory();
  std::unique_lock lock{d.mutex};
  d.systems.emplace_back(sys_, edges_);
}

request_edges::~request_edges() {
  stop();
}

void request_edges::stop() {
  if (edges_.empty()) return;
  {
    auto& d = directory();
    std::unique_lock lock{d.mutex};
    std::erase_if(d.systems, [this](const auto& entry) { return entry.first == sys_; });
  }
  for (auto& edge : edges_) caf::anon_send_exit(edge, caf::exit_reason::user_shutdown);
  edges_.clear();
}

}  // namespace caa
