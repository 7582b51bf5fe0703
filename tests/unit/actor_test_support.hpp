#pragma once

// What the actor tests share: a system config that runs CAF's test coordinator (virtual time,
// nothing runs until the test says so), and the inert part of a fake session actor (the
// session's internal messages, which a fake never receives from anyone but itself).

#include "actors/interfaces.hpp"
#include "actors/system_config.hpp"
#include "config/errc.hpp"

#include <caf/all.hpp>
#include <caf/detail/test_actor_clock.hpp>

#include <algorithm>
#include <string>
#include <utility>

namespace caa::test_support {

/// The service's actor system config with the test coordinator and no network.
class coordinator_config : public system_config {
 public:
  coordinator_config() : system_config(settings{}) {
    set("scheduler.policy", caf::atom("testing"));
    set("middleman.network-backend", caf::atom("testing"));
  }
};

/// The request timeouts the test clock holds for actor `id`: a request answered in time leaves
/// none (storage/bridge.hpp, cancel_answered_timeout).
inline std::size_t request_timeouts_of(const caf::detail::test_actor_clock& clock,
                                       caf::actor_id id) {
  auto [first, last] = clock.actor_lookup().equal_range(id);
  return static_cast<std::size_t>(std::count_if(first, last, [](const auto& entry) {
    return entry.second->second->subtype == caf::detail::simple_actor_clock::request_timeout_type;
  }));
}

/// A fake session's behaviour: `handlers` for every request of `session_actor` (what a test
/// observes), plus inert handlers for its INTERNAL messages. Dynamically typed on purpose: CAF
/// 0.17 checks a typed behaviour of an interface this size against its signatures with
/// templates that take gigabytes to compile; the fakes are cast to `session_actor` instead.
template <class... Handlers>
caf::behavior session_behavior_with_inert_internals(Handlers... handlers) {
  return {
      std::move(handlers)...,
      [](atom::line, uint64_t, std::string&) {},
      [](atom::line, uint64_t, std::vector<std::string>&) {},
      [](atom::exited, uint64_t, int32_t, std::string&) {},
      [](atom::launched, uint64_t) {},
      [](atom::turn_due, uint64_t) {},
      [](atom::stop_due, uint64_t) {},
      [](atom::idle_due, uint64_t) {},
      [](atom::write_due) {},
      [](atom::answer_due, uint64_t) {},
      [](atom::sink_ready, uint64_t) {},
      [](atom::sink_stall, uint64_t) {},
      [](atom::retire_due) {},
      [](atom::lease_due) {},
      [](atom::hooked, uint64_t, std::string&, std::string&) {},
  };
}

/// A fake session's behaviour: `handlers` for run (local and portable), subscribe (local and
/// remote), interrupt, remove, hibernate, drain and busy (what a test observes), plus answers to
/// answer, control and rewind and inert handlers for the INTERNAL messages.
template <class... Handlers>
caf::behavior fake_session_behavior(Handlers... handlers) {
  return session_behavior_with_inert_internals(
      std::move(handlers)...,
      [](atom::answer, pending_answer&) -> caf::result<bool> { return true; },
      [](atom::control, live_control&) -> caf::result<std::string> {
        return std::string{"stored"};
      },
      [](atom::rewind, std::string&, bool, turn_spec_ptr&) -> caf::result<std::string> {
        return make_error(errc::checkpoint_not_found, "fake");
      },
      [](atom::rewind, std::string&, bool, portable_turn&) -> caf::result<std::string> {
        return make_error(errc::checkpoint_not_found, "fake");
      });
}

}  // namespace caa::test_support
