#pragma once

#include <caf/actor_clock.hpp>
#include <caf/actor_system.hpp>
#include <caf/error.hpp>
#include <caf/event_based_actor.hpp>

#include <functional>
#include <utility>

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

/// Sends `xs...` to `dest` from a one-shot actor and calls exactly one of `on_value` (with the
/// reply) or `on_error` (including the timeout), on a CAF thread. This is the only way code that
/// is not an actor (Beast I/O threads) talks to actors: it never blocks the caller.
template <class Reply, class Handle, class... Ts>
void async_request(caf::actor_system& sys, Handle dest, caf::timespan timeout,
                   std::function<void(Reply)> on_value, std::function<void(caf::error)> on_error,
                   Ts... xs) {
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

}  // namespace caa
