#pragma once

#include <caf/actor_clock.hpp>
#include <caf/actor_system.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/error.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/message_id.hpp>

#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <utility>
#include <vector>

namespace caa {

/// Cancels the timeout of the request whose answer (or error) `self` is handling now. CAF 0.17
/// keeps a request's timeout in its clock after the answer: it fires later anyway, wakes the
/// clock thread and then `self` for a message it drops, and holds `self` alive until then. For
/// an actor that lives on and makes a request per event, those late timeouts were a standing load
/// that ran on for the whole timeout after the traffic stopped. Call it first in both handlers
/// of such a request's `then` (an actor that ends drops its timeouts anyway).
template <class Self>
void cancel_answered_timeout(Self* self) {
  if (auto* answer = self->current_mailbox_element(); answer != nullptr)
    self->clock().cancel_request_timeout(self, answer->mid);
}

namespace detail {

/// A request handed to a request edge (`request_edges`): `issue` sends it from the edge, with
/// the edge's handlers for its answer, and returns the id its answer will carry; the edge
/// fails it after `timeout`.
struct request_job {
  caf::timespan timeout;
  std::function<caf::message_id(caf::event_based_actor*)> issue;
};
using request_job_ptr = std::shared_ptr<request_job>;

/// The request edge of `sys` for the calling thread's next request; invalid when `sys` runs
/// none.
caf::actor edge_of(caf::actor_system& sys);

/// Hands `job` to `edge`.
void hand_over(const caf::actor& edge, request_job_ptr job);

/// The edge `self` got the answer (or the error) of its request `id`: it stops guarding it.
void edge_answered(caf::event_based_actor* self, caf::message_id id) noexcept;

/// A callback threw on an edge: logged, and the edge serves on.
void edge_callback_threw(const std::exception* e) noexcept;

/// Runs `f` on an edge: an exception is logged, never ends the edge (it serves everyone).
template <class F>
void guarded(F&& f) noexcept {
  try {
    f();
  } catch (const std::exception& e) {
    edge_callback_threw(&e);
  } catch (...) {
    edge_callback_threw(nullptr);
  }
}

}  // namespace detail

/// Sends `xs...` to `dest` and calls exactly one of `on_value` (with the reply) or `on_error`
/// (including the timeout), on a CAF thread. This is the only way code that is not an actor
/// (Beast I/O threads) talks to actors: it never blocks the caller.
///
/// Where the actor system runs request edges (`request_edges`), the request goes out from one
/// of them: no actor is spawned, and the timeout costs no wake-up of CAF's clock thread.
/// Elsewhere (tests that run none) a one-shot actor makes it.
template <class Reply, class Handle, class... Ts>
void async_request(caf::actor_system& sys, Handle dest, caf::timespan timeout,
                   std::function<void(Reply)> on_value, std::function<void(caf::error)> on_error,
                   Ts... xs) {
  if (auto edge = detail::edge_of(sys)) {
    auto job = std::make_shared<detail::request_job>();
    job->timeout = timeout;
    job->issue = [dest = std::move(dest), ok = std::move(on_value), fail = std::move(on_error),
                  ... args = std::move(xs)](caf::event_based_actor* self) mutable {
      auto handle = self->request(dest, caf::infinite, std::move(args)...);
      auto id = handle.id();
      handle.then(
          [self, id, ok = std::move(ok)](Reply& r) {
            detail::edge_answered(self, id);
            detail::guarded([&] { ok(std::move(r)); });
          },
          [self, id, fail = std::move(fail)](caf::error& e) {
            detail::edge_answered(self, id);
            detail::guarded([&] { fail(std::move(e)); });
          });
      return id;
    };
    detail::hand_over(edge, std::move(job));
    return;
  }
  // Dependencies go in as spawn arguments (not captures) to keep 0.17.6 UBSan-clean.
  sys.spawn(
      [](caf::event_based_actor* self, Handle dst, caf::timespan t, std::function<void(Reply)> ok,
         const std::function<void(caf::error)>& fail, Ts... args) {
        self->request(dst, t, std::move(args)...)
            .then([ok](Reply& r) { ok(std::move(r)); },
                  [fail](caf::error& e) { fail(std::move(e)); });
      },
      std::move(dest), timeout, std::move(on_value), std::move(on_error), std::move(xs)...);
}

/// The actors that make `async_request`'s requests for code that is not an actor: a few
/// long-lived actors instead of one spawned per request, each guarding the timeouts of its
/// requests itself (one timer per edge, armed for the earliest deadline, instead of one entry in
/// CAF's clock per request). Requests take the edges in turn. Start them once the actor system
/// runs; `stop` (or the destructor) withdraws them, and each ends once its requests have their
/// answers or timeouts.
class request_edges {
 public:
  /// Starts `count` edges (1 to 64) for the requests made with `sys`.
  request_edges(caf::actor_system& sys, std::size_t count);
  ~request_edges();
  request_edges(const request_edges&) = delete;
  request_edges& operator=(const request_edges&) = delete;

  /// Withdraws the edges (later requests spawn their one-shot actor) and ends each once its
  /// requests have their answers or timeouts.
  void stop();

  /// The edges while they run (for tests).
  const std::vector<caf::actor>& actors() const noexcept { return edges_; }

 private:
  caf::actor_system* sys_;
  std::vector<caf::actor> edges_;
};

}  // namespace caa

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(caa::detail::request_job_ptr)
