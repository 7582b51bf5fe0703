// The gatekeeper a node publishes on CLUSTER_PORT and the per-peer link actors it hands out.

#include "actors/cluster.hpp"
#include "config/errc.hpp"
#include "config/logging.hpp"

#include <caf/io/middleman.hpp>
#include <caf/typed_event_based_actor.hpp>

namespace caa {

namespace {

struct node_link_state {
  static inline const char* name = "caa.node_link";
};

using node_link_ptr = node_link_actor::stateful_pointer<node_link_state>;

/// Asks this node's registry for a session on behalf of the peer. Not delegated: the registry
/// replies a `session_actor`, a type the wire does not know, so the link converts the handle.
caf::result<caf::actor> find_session(node_link_ptr self, const registry_actor& registry,
                                     const std::string& tenant_id, const std::string& session_id) {
  auto rp = self->make_response_promise<caf::actor>();
  // The registry runs in this process; the peer's request carries its own deadline, and a
  // revival from PostgreSQL may take as long as the registry's own timeouts allow.
  self->request(registry, caf::infinite, atom::find_v, tenant_id, session_id)
      .then([rp](const session_actor& s) mutable { rp.deliver(caf::actor_cast<caf::actor>(s)); },
            [rp](caf::error& e) mutable { rp.deliver(std::move(e)); });
  return rp;
}

/// Creates a session a full peer placed here; converts the handle as `find_session` does.
caf::result<std::string, caf::actor> create_session(node_link_ptr self,
                                                    const registry_actor& registry, new_session ns,
                                                    const portable_turn& turn) {
  auto rp = self->make_response_promise<std::string, caf::actor>();
  self->request(registry, caf::infinite, atom::create_v, std::move(ns), turn)
      .then(
          [rp](std::string& id, const session_actor& s) mutable {
            rp.deliver(std::move(id), caf::actor_cast<caf::actor>(s));
          },
          [rp](caf::error& e) mutable { rp.deliver(std::move(e)); });
  return rp;
}

/// The link of peer `peer_id`: it ends when `peer` (the actor that said hello, on the peer's
/// node) goes down or its connection breaks. Sessions are looked up in `registry`.
node_link_actor::behavior_type node_link(node_link_ptr self, const std::string& node_id,
                                         const std::string& peer_id, const caf::actor& peer,
                                         const registry_actor& registry) {
  self->monitor(peer);
  self->set_down_handler([self, peer_id](const caf::down_msg&) {
    log::info("cluster peer disconnected", {.component = "cluster", .detail = peer_id});
    self->quit();
  });
  return {
      [node_id](atom::ping) { return node_id; },
      [self, registry](atom::find, const std::string& tenant_id, const std::string& session_id) {
        return find_session(self, registry, tenant_id, session_id);
      },
      [self, registry](atom::create, new_session& ns, const portable_turn& turn) {
        return create_session(self, registry, std::move(ns), turn);
      },
  };
}

struct node_gate_state {
  static inline const char* name = "caa.node_gate";
};

node_gate_actor::behavior_type node_gate(node_gate_actor::stateful_pointer<node_gate_state> self,
                                         const std::string& node_id, const secret& shared_secret,
                                         const registry_actor& registry) {
  return {
      [self, node_id, shared_secret, registry](
          atom::hello, const std::string& presented,
          const std::string& peer_id) -> caf::result<caf::actor> {
        auto sender = caf::actor_cast<caf::actor>(self->current_sender());
        if (!ct_equal(shared_secret, presented) || !sender) {
          log::warn("cluster peer refused: wrong secret",
                    {.component = "cluster", .detail = peer_id.substr(0, 128)});
          return make_error(errc::unauthenticated);
        }
        log::info("cluster peer linked", {.component = "cluster", .detail = peer_id});
        // Linked: the links end with the gate when the node stops (the actor system waits for
        // every actor, and a link would otherwise live as long as its peer).
        auto link = self->spawn<caf::linked>(node_link, node_id, peer_id, sender, registry);
        return caf::actor_cast<caf::actor>(link);
      },
  };
}

}  // namespace

node_gate_actor spawn_node_gate(caf::actor_system& sys, std::string node_id, secret shared_secret,
                                registry_actor registry) {
  return sys.spawn(node_gate, std::move(node_id), std::move(shared_secret), std::move(registry));
}

caf::expected<uint16_t> publish_node_gate(caf::actor_system& sys, const node_gate_actor& gate,
                                          const std::string& host, uint16_t port) {
  return sys.middleman().publish(gate, port, host.c_str(), true);
}

}  // namespace caa
