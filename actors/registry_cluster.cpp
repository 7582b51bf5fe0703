// The registry's side of the cluster: sessions other nodes serve (reached through forwarders)
// and the placement of new sessions on the node with the most room.

#include "actors/registry_impl.hpp"
#include "actors/session_forwarder.hpp"
#include "config/errc.hpp"
#include "config/error_values.hpp"
#include "config/logging.hpp"
#include "storage/postgres/lease_queries.hpp"

#include <caf/all.hpp>

#include <algorithm>

namespace caa::registry_detail {

/// Keeps `fwd`, the forwarder to session `id` on another node, for the next requests.
void remember_remote(self_ptr self, const std::string& tenant_id, const std::string& id,
                     const session_actor& fwd) {
  self->monitor(fwd);
  self->state.remote[id] = entry{tenant_id, fwd};
}

/// Another node holds the lease of `id`: the waiters get a forwarder to the session's actor on
/// that node. When the node cannot be reached (it may be gone, its lease not yet run out) they
/// are told to come back when the lease may have run out.
void elsewhere(self_ptr self, const std::string& tenant_id, const std::string& id,
               const storage::lease_claim& claim) {
  auto& st = self->state;
  auto holder = claim.holder.value_or("");
  auto wait = std::clamp<std::chrono::milliseconds>(claim.remaining, std::chrono::seconds{1},
                                                    std::chrono::seconds{30});
  auto unreachable = [self, tenant_id, id, holder, wait](const caf::error& e) {
    auto code = errc_of(e);
    if (code == errc::session_not_found) return fail_waiters(self->state, tenant_id, id, e);
    log::info("session owned by a node this one cannot reach", {.component = "cluster",
                                                                .session_id = id,
                                                                .error_code = to_string(code),
                                                                .detail = holder});
    fail_waiters(
        self->state, tenant_id, id,
        with_retry_after(make_error(errc::unavailable, "session served by node " + holder), wait));
  };
  if (!st.deps.cluster || holder.empty())
    return unreachable(make_error(errc::unavailable, "no cluster"));
  auto timeout = st.deps.peer_timeout;
  self->request(st.deps.cluster, timeout, atom::link_v, holder)
      .then(
          [=](const caf::actor& link) {
            self->request(caf::actor_cast<node_link_actor>(link), timeout, atom::find_v, tenant_id,
                          id)
                .then(
                    [=](const caf::actor& remote) {
                      auto fwd = spawn_session_forwarder(
                          self->system(), caf::actor_cast<session_actor>(remote), holder, timeout,
                          forwarded_turn_timeout(self->state.deps));
                      remember_remote(self, tenant_id, id, fwd);
                      for (auto& w : take_waiters(self->state, tenant_id, id)) w.deliver(fwd);
                    },
                    [=](const caf::error& e) { unreachable(e); });
          },
          [=](const caf::error& e) { unreachable(e); });
}

namespace {

/// Creates the session of first turn `spec` on node `node` (over its link): its actor there is
/// reached through a forwarder here. A link that cannot be had leaves the session here; a
/// refusal of the other node (e.g. its own capacity) is the answer.
void create_on(self_ptr self, const std::string& node, new_session ns, const turn_spec_ptr& spec,
               caf::typed_response_promise<std::string, session_actor> rp) {
  auto& deps = self->state.deps;
  auto timeout = deps.peer_timeout;
  auto turn = portable_of(*spec);
  self->request(deps.cluster, timeout, atom::link_v, node)
      .then(
          [=](const caf::actor& link) mutable {
            auto turn_timeout = forwarded_turn_timeout(self->state.deps);
            self->request(caf::actor_cast<node_link_actor>(link), turn_timeout, atom::create_v, ns,
                          turn)
                .then(
                    [=](std::string& id, const caf::actor& remote) mutable {
                      log::info("session placed on another node",
                                {.component = "cluster", .session_id = id, .detail = node});
                      auto fwd = spawn_session_forwarder(self->system(),
                                                         caf::actor_cast<session_actor>(remote),
                                                         node, timeout, turn_timeout);
                      remember_remote(self, ns.tenant_id, id, fwd);
                      rp.deliver(std::move(id), std::move(fwd));
                    },
                    [=](caf::error& e) mutable {
                      if (e.category() != errc_category)
                        e = make_error(errc::unavailable,
                                       "session placed on node " + node + ": " + caf::to_string(e));
                      rp.deliver(std::move(e));
                    });
          },
          [=](const caf::error&) mutable { create_here(self, std::move(ns), spec, rp); });
}

}  // namespace

/// A new session with first turn `spec`: here while this node has room in its process budget,
/// else on the node of the cluster with the most room (and reached through a forwarder). Forks
/// stay here (their parent's transcript is restored where they run).
void place(self_ptr self, new_session ns, const turn_spec_ptr& spec,
           const caf::typed_response_promise<std::string, session_actor>& rp) {
  auto& deps = self->state.deps;
  if (!deps.cluster || !spec || ns.parent_session_id || !deps.sessions.rebuild_turn) {
    create_here(self, std::move(ns), spec, rp);
    return;
  }
  self->request(deps.cluster, deps.peer_timeout, atom::place_v)
      .then(
          [=](const std::string& node) mutable {
            if (node.empty())
              create_here(self, std::move(ns), spec, rp);
            else
              create_on(self, node, std::move(ns), spec, rp);
          },
          [=](const caf::error&) mutable { create_here(self, std::move(ns), spec, rp); });
}

}  // namespace caa::registry_detail
