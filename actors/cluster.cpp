// The membership actor: announcements in Redis, the last known list of nodes, and the links to
// peers (made on first need, retried with backoff).

#include "actors/cluster.hpp"

#include "actors/cluster_members.hpp"
#include "config/errc.hpp"
#include "config/logging.hpp"
#include "config/metrics_catalog.hpp"

#include <caf/actor_clock.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/io/middleman.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <algorithm>
#include <map>

namespace caa {

namespace {

/// A request for the link to a peer, waiting for the connection under way.
using link_promise = caf::typed_response_promise<caf::actor>;

/// This node's link to one peer.
struct peer_link {
  caf::actor link;                          ///< the peer's `node_link_actor` while `state` is "up"
  std::string state = "none";               ///< "none", "connecting", "up" or "backoff"
  uint64_t attempt = 0;                     ///< the current (or last) connection attempt
  uint32_t failures = 0;                    ///< failed attempts in a row
  caf::actor_clock::time_point retry_at{};  ///< on the actor clock
  std::vector<link_promise> waiting;        ///< `link` requests answered when the attempt ends
};

struct cluster_state {
  static inline const char* name = "caa.cluster";
  cluster_deps deps;
  std::optional<cluster_members> members;
  std::map<std::string, peer_link> peers;
};

using cluster_ptr = cluster_actor::stateful_pointer<cluster_state>;

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::chrono::milliseconds to_ms(caf::timespan x) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(x);
}

/// What this node announces now.
storage::node_record self_record(const cluster_deps& d) {
  storage::node_record x;
  x.node_id = d.node_id;
  x.host = d.host;
  x.port = d.port;
  x.sessions =
      static_cast<uint64_t>(std::max<int64_t>(0, metrics::service().sessions_loaded.value()));
  x.processes =
      static_cast<uint64_t>(std::max<int64_t>(0, metrics::service().agent_processes_live.value()));
  x.heartbeat_ms = now_ms();
  x.budget = d.budget;
  return x;
}

void redis_failed(cluster_ptr self, const std::string& why) {
  self->state.members->unreadable();
  log::warn_once("cluster-redis", "cluster: Redis unreadable, keeping the last known nodes",
                 {.component = "cluster", .detail = why});
}

/// Answers every `link` request waiting on `p` with `x` (the link, or an error).
template <class T>
void settle(peer_link& p, const T& x) {
  auto waiting = std::move(p.waiting);
  p.waiting.clear();
  for (auto& rp : waiting) rp.deliver(x);
}

/// Ends the link to `id` (the peer is gone, or its link broke).
void drop_link(cluster_ptr self, const std::string& id) {
  auto i = self->state.peers.find(id);
  if (i == self->state.peers.end()) return;
  if (i->second.link) self->demonitor(i->second.link);
  settle(i->second, make_error(errc::unavailable, "cluster peer " + id + " is gone"));
  self->state.peers.erase(i);
}

/// Applies a read of Redis, forgets long-gone nodes, drops the links of gone ones.
void apply_read(cluster_ptr self, const std::vector<storage::node_record>& index,
                const std::vector<bool>& alive) {
  auto& st = self->state;
  st.members->observe(index, alive, now_ms(), to_ms(st.deps.node_ttl));
  log::rearm_once("cluster-redis");
  auto stale = st.members->forget_stale(now_ms());
  if (!stale.empty())
    self->request(st.deps.redis, st.deps.redis_timeout, storage::forget_command(stale))
        .then([](const storage::redis_reply&) {}, [](const caf::error&) {});
  for (const auto& [id, e] : st.members->entries())
    if (!e.alive) drop_link(self, id);
  for (const auto& id : stale) drop_link(self, id);
}

/// Reads which of the indexed nodes are alive.
void read_alive(cluster_ptr self, const std::vector<storage::node_record>& index) {
  if (index.empty()) {
    apply_read(self, index, {});
    return;
  }
  std::vector<std::string> ids;
  ids.reserve(index.size());
  for (const auto& x : index) ids.push_back(x.node_id);
  self->request(self->state.deps.redis, self->state.deps.redis_timeout, storage::alive_command(ids))
      .then(
          [self, index](const storage::redis_reply& r) {
            auto alive = storage::parse_alive(r, index.size());
            if (!alive) return redis_failed(self, "unexpected MGET reply");
            apply_read(self, index, *alive);
          },
          [self](const caf::error& e) { redis_failed(self, caf::to_string(e)); });
}

/// Announces this node (its key with the TTL, and its record in the index), then reads the
/// others.
void announce(cluster_ptr self) {
  auto& d = self->state.deps;
  auto rec = self_record(d);
  auto ignore = [](const storage::redis_reply&) {};
  auto failed = [self](const caf::error& e) { redis_failed(self, caf::to_string(e)); };
  self->request(d.redis, d.redis_timeout, storage::announce_command(rec, to_ms(d.node_ttl)))
      .then(ignore, failed);
  self->request(d.redis, d.redis_timeout, storage::index_command(rec)).then(ignore, failed);
  self->request(d.redis, d.redis_timeout, storage::list_command())
      .then(
          [self](const storage::redis_reply& r) {
            auto index = storage::parse_node_index(r);
            if (!index) return redis_failed(self, "unexpected HGETALL reply");
            read_alive(self, *index);
          },
          failed);
}

/// Connects to a peer's gatekeeper on a thread of its own (the connect blocks), then tells
/// `parent`.
void connector(caf::event_based_actor* self, const cluster_actor& parent, std::string id,
               uint64_t attempt, const std::string& host, uint16_t port) {
  auto gate = self->system().middleman().remote_actor<node_gate_actor>(host, port);
  self->send(parent, atom::connected_v, std::move(id), attempt,
             gate ? caf::actor_cast<caf::actor>(*gate) : caf::actor{});
  self->quit();
}

/// Starts a connection to alive peer `e` unless one is up, under way, or waiting out its
/// backoff.
void ensure_link(cluster_ptr self, const cluster_members::entry& e) {
  auto& p = self->state.peers[e.record.node_id];
  if (p.state == "up" || p.state == "connecting") return;
  if (p.state == "backoff" && self->clock().now() < p.retry_at) return;
  p.state = "connecting";
  ++p.attempt;
  self->spawn<caf::detached>(connector, caf::actor_cast<cluster_actor>(self), e.record.node_id,
                             p.attempt, e.record.host, e.record.port);
}

void link_failed(cluster_ptr self, const std::string& id, uint64_t attempt,
                 const std::string& why) {
  auto i = self->state.peers.find(id);
  if (i == self->state.peers.end() || i->second.attempt != attempt) return;
  auto& p = i->second;
  ++p.failures;
  p.state = "backoff";
  p.retry_at = self->clock().now() + connect_backoff(p.failures);
  settle(p, make_error(errc::unavailable, "cluster peer " + id + " unreachable: " + why));
  log::warn("cluster peer unreachable",
            {.component = "cluster", .detail = id + ": " + why, .attempt = p.failures});
}

/// A connection attempt ended: say hello to the gatekeeper, keep the link it answers.
void on_connected(cluster_ptr self, const std::string& id, uint64_t attempt,
                  const caf::actor& gate) {
  auto i = self->state.peers.find(id);
  if (i == self->state.peers.end() || i->second.attempt != attempt) return;
  if (!gate) return link_failed(self, id, attempt, "cannot connect");
  auto& d = self->state.deps;
  self->request(caf::actor_cast<node_gate_actor>(gate), d.node_ttl, atom::hello_v,
                d.shared_secret->reveal(), d.node_id)
      .then(
          [self, id, attempt](const caf::actor& link) {
            auto j = self->state.peers.find(id);
            if (j == self->state.peers.end() || j->second.attempt != attempt) return;
            if (!link) return link_failed(self, id, attempt, "no link in the answer");
            self->monitor(link);
            auto& p = j->second;
            p.link = link;
            p.state = "up";
            p.failures = 0;
            p.retry_at = {};
            settle(p, link);
            log::info("cluster peer linked", {.component = "cluster", .detail = id});
          },
          [self, id, attempt](const caf::error& e) {
            link_failed(self, id, attempt, caf::to_string(e));
          });
}

/// The link to peer `id`: now when it is up, else a promise answered when the connection it
/// starts (or the one under way) ends.
caf::result<caf::actor> link_to_peer(cluster_ptr self, const std::string& id) {
  auto& st = self->state;
  auto refuse = [&id](const char* why) {
    return make_error(errc::unavailable, "no link to node " + id + ": " + why);
  };
  if (!st.deps.clustered()) return refuse("this node runs alone");
  if (id == st.deps.node_id) return refuse("it is this node");
  const auto& entries = st.members->entries();
  auto e = entries.find(id);
  if (e == entries.end() || !e->second.alive) return refuse("unknown or gone");
  auto& p = st.peers[id];
  if (p.state == "up" && p.link) return p.link;
  // A caller cannot wait out a backoff of up to minutes: it gets an answer now and may retry.
  if (p.state == "backoff" && self->clock().now() < p.retry_at) return refuse("in backoff");
  ensure_link(self, e->second);
  auto rp = self->make_response_promise<caf::actor>();
  p.waiting.push_back(rp);
  return rp;
}

/// The membership now; links to alive peers start in the background.
cluster_view view(cluster_ptr self) {
  auto& st = self->state;
  auto now = now_ms();
  cluster_view v;
  v.self_id = st.deps.node_id;
  v.source = !st.deps.clustered() ? "single" : st.members->from_redis() ? "redis" : "last_known";
  auto me = self_record(st.deps);
  v.members.push_back({me.node_id,
                       st.deps.clustered() ? st.deps.host + ":" + std::to_string(st.deps.port) : "",
                       "self", me.sessions, me.processes, 0, "self"});
  for (const auto& [id, e] : st.members->entries()) {
    auto m = cluster_members::show(e, now);
    if (e.alive) ensure_link(self, e);
    if (auto i = st.peers.find(id); i != st.peers.end()) m.link = i->second.state;
    v.members.push_back(std::move(m));
  }
  return v;
}

cluster_actor::behavior_type cluster(cluster_ptr self, cluster_deps deps) {
  auto forget_after = std::max(to_ms(deps.node_ttl) * 30, to_ms(std::chrono::minutes{10}));
  self->state.members.emplace(deps.node_id, forget_after);
  self->state.deps = std::move(deps);
  self->set_down_handler([self](const caf::down_msg& dm) {
    for (auto& [id, p] : self->state.peers)
      if (p.link && p.link.address() == dm.source) {
        p.link = caf::actor{};
        p.state = "none";
        p.failures = 0;
        p.retry_at = {};
        log::info("cluster link lost", {.component = "cluster", .detail = id});
      }
  });
  if (self->state.deps.clustered()) self->send(self, atom::heartbeat_v);
  return {
      [self](atom::members) { return view(self); },
      [self](atom::link, const std::string& id) { return link_to_peer(self, id); },
      [self](atom::place) {
        auto& st = self->state;
        if (!st.deps.clustered()) return std::string{};
        return st.members->place(self_record(st.deps).processes, st.deps.budget)
            .value_or(std::string{});
      },
      [self](atom::heartbeat) {
        self->delayed_send(self, self->state.deps.heartbeat, atom::heartbeat_v);
        announce(self);
      },
      [self](atom::connected, const std::string& id, uint64_t attempt, const caf::actor& gate) {
        on_connected(self, id, attempt, gate);
      },
  };
}

}  // namespace

cluster_actor spawn_cluster(caf::actor_system& sys, cluster_deps deps) {
  return sys.spawn(cluster, std::move(deps));
}

}  // namespace caa
