#include "actors/registry_impl.hpp"

#include "config/errc.hpp"
#include "config/error_values.hpp"
#include "config/logging.hpp"
#include "config/metrics_catalog.hpp"
#include "config/uuid.hpp"
#include "storage/bridge.hpp"
#include "storage/postgres/lease_queries.hpp"
#include "storage/postgres/session_queries.hpp"
#include "transport/claude/process.hpp"

#include <caf/all.hpp>

#include <map>

namespace caa {

using namespace std::chrono_literals;

namespace registry_detail {

/// Publishes how many sessions are in memory.
void publish(const registry_state& st) {
  metrics::service().sessions_loaded.set(static_cast<int64_t>(st.live.size()));
}

session_actor start(self_ptr self, session_identity who) {
  auto id = who.id;
  auto tenant = who.tenant_id;
  auto actor = self->state.deps.spawn(self->system(), std::move(who), self->state.deps.sessions,
                                      session_owner_actor{self});
  // Linked: when the registry stops (shutdown), every session stops and kills its process.
  self->monitor(actor);
  self->link_to(actor);
  self->state.live[id] = entry{tenant, actor};
  self->state.remote.erase(id);  // served here from now on (e.g. taken over)
  publish(self->state);
  if (self->state.draining) self->send(actor, atom::drain_v);
  return actor;
}

/// The promises waiting for the revival of `id` by `tenant_id`, removed from the map.
std::vector<caf::typed_response_promise<session_actor>> take_waiters(registry_state& st,
                                                                     const std::string& tenant_id,
                                                                     const std::string& id) {
  auto it = st.loading.find({tenant_id, id});
  if (it == st.loading.end()) return {};
  auto waiters = std::move(it->second);
  st.loading.erase(it);
  return waiters;
}

/// Fails every waiter for the revival of `id` by `tenant_id` with `e`.
void fail_waiters(registry_state& st, const std::string& tenant_id, const std::string& id,
                  const caf::error& e) {
  for (auto& w : take_waiters(st, tenant_id, id)) w.deliver(e);
}

/// Reads the row of `id` and starts its actor, writing under lease `epoch` (0: none).
void load(self_ptr self, const std::string& tenant_id, const std::string& id, uint64_t epoch);

/// Revives `id` from PostgreSQL. In a cluster the node first claims the session's ownership
/// lease: granted, it starts the actor under the new epoch (a turn a gone owner left running
/// was ended as interrupted by the claim); refused, another node serves the session.
void revive(self_ptr self, const std::string& tenant_id, const std::string& id) {
  auto& st = self->state;
  const auto& node = st.deps.sessions.node_id;
  if (node.empty()) return load(self, tenant_id, id, 0);
  auto ttl = std::chrono::duration_cast<std::chrono::milliseconds>(st.deps.sessions.lease_ttl);
  self->request(st.deps.sessions.pg, st.deps.sessions.db_timeout,
                storage::make_claim_lease_batch(tenant_id, id, node, ttl))
      .then(
          [=](std::vector<storage::db_result>& rs) {
            cancel_answered_timeout(self);
            auto claim = storage::parse_lease_claim(rs);
            if (!claim) return fail_waiters(self->state, tenant_id, id, claim.error());
            if (claim->claimed) {
              if (claim->interrupted_turn)
                log::info("session taken over from a gone node; its turn ended as interrupted",
                          {.component = "cluster", .session_id = id});
              return load(self, tenant_id, id, claim->epoch);
            }
            elsewhere(self, tenant_id, id, *claim);
          },
          [=](caf::error& e) {
            cancel_answered_timeout(self);
            fail_waiters(self->state, tenant_id, id, e);
          });
}

void load(self_ptr self, const std::string& tenant_id, const std::string& id, uint64_t epoch) {
  auto& st = self->state;
  self->request(st.deps.sessions.pg, st.deps.sessions.db_timeout,
                storage::make_get_session_query(tenant_id, id))
      .then(
          [=](storage::db_result& r) {
            cancel_answered_timeout(self);
            auto& s = self->state;
            auto waiters = take_waiters(s, tenant_id, id);
            auto rec = storage::parse_session(r);
            if (!rec) {
              for (auto& w : waiters)
                w.deliver(make_error(errc::session_not_found, "no such session"));
              return;
            }
            session_actor actor;
            if (auto it = s.live.find(id); it != s.live.end()) {
              // Started meanwhile: it is the waiters' only if it belongs to their tenant.
              if (it->second.tenant_id != tenant_id) {
                for (auto& w : waiters)
                  w.deliver(make_error(errc::session_not_found, "no such session"));
                return;
              }
              actor = it->second.actor;
            } else {
              session_identity who;
              who.id = id;
              who.tenant_id = tenant_id;
              who.last_seq = rec->last_seq;
              who.reserved_seq = rec->event_seq_reserved;
              who.turns = static_cast<uint32_t>(rec->total_turns);
              who.epoch = epoch;
              who.cli_session_started = rec->total_turns > 0 || rec->last_seq > 0;
              if (rec->parent_session_id && !who.cli_session_started)
                who.parent_session_id = *rec->parent_session_id;
              actor = start(self, std::move(who));
            }
            for (auto& w : waiters) w.deliver(actor);
          },
          [=](caf::error& e) {
            cancel_answered_timeout(self);
            auto waiters = take_waiters(self->state, tenant_id, id);
            for (auto& w : waiters) w.deliver(e);
          });
}

/// The warm-pool key of a new session: its tenant and spawn-time options.
std::string warm_key(const std::string& tenant_id, const turn_spec& spec) {
  return tenant_id + '\n' + spec.options_json;
}

/// Creates the session of first turn `spec` on this node, with a warm process when one with
/// the same spawn options is ready.
void create_here(self_ptr self, new_session ns, const turn_spec_ptr& spec,
                 const caf::typed_response_promise<std::string, session_actor>& rp) {
  auto& st = self->state;
  if (!st.deps.warm || !spec || ns.parent_session_id) {
    create(self, std::move(ns), nullptr, rp);
    return;
  }
  // A warm process is granted to the session without the tenant-share check of `acquire`: a
  // tenant at its share takes none (its turn then waits for, or is refused, a slot of its own).
  self->request(st.deps.sessions.admission, std::chrono::seconds{2}, atom::find_v, ns.tenant_id)
      .then(
          [=](bool below_share) mutable {
            cancel_answered_timeout(self);
            if (!below_share) {
              create(self, ns, nullptr, rp);
              return;
            }
            auto key = warm_key(ns.tenant_id, *spec);
            self->send(self->state.deps.warm, atom::warm_v, key, spec);
            self->request(self->state.deps.warm, std::chrono::seconds{2}, atom::take_v, key)
                .then(
                    [=](const warm_process_ptr& w) mutable {
                      cancel_answered_timeout(self);
                      create(self, ns, w, rp);
                    },
                    [=](caf::error&) mutable {
                      cancel_answered_timeout(self);
                      create(self, ns, nullptr, rp);
                    });
          },
          [=](caf::error&) mutable {
            cancel_answered_timeout(self);
            create(self, ns, nullptr, rp);
          });
}

void create(self_ptr self, new_session ns, const warm_process_ptr& warm,
            caf::typed_response_promise<std::string, session_actor> rp) {
  auto& st = self->state;
  auto give_back = [self, warm] {
    if (!warm) return;
    // The pool's slot goes back once the process is reaped, never while it still runs.
    warm->proc->when_reaped([admission = self->state.deps.sessions.admission] {
      caf::anon_send(admission, atom::release_v, atom::warm_v);
    });
    warm->proc->kill();
  };
  auto id = warm ? warm->session_id : new_uuid();
  storage::new_session row;
  row.tenant_id = ns.tenant_id;
  row.id = id;
  row.cli_session_id = id;
  if (ns.parent_session_id) row.parent_session_id = *ns.parent_session_id;
  row.status = storage::session_status::idle;
  if (ns.model) row.model = *ns.model;
  row.permission_mode = ns.permission_mode;
  row.cwd = ns.cwd_relative;
  row.options_json = ns.options_json.empty() ? "{}" : ns.options_json;
  if (ns.title) row.title = *ns.title;
  row.tags = ns.tags;
  if (!st.deps.sessions.node_id.empty()) {
    // In a cluster a new session starts leased to this node (epoch 1).
    row.owner_node = st.deps.sessions.node_id;
    row.lease = std::chrono::duration_cast<std::chrono::milliseconds>(st.deps.sessions.lease_ttl);
  }
  auto q = storage::make_create_session_query(row);
  if (!q) {
    give_back();
    rp.deliver(q.error());
    return;
  }
  self->request(st.deps.sessions.pg, st.deps.sessions.db_timeout, std::move(*q))
      .then(
          [=](storage::db_result& r) mutable {
            cancel_answered_timeout(self);
            auto rec = storage::parse_session(r);
            if (!rec) {
              give_back();
              rp.deliver(rec.error());
              return;
            }
            session_identity who;
            who.id = id;
            who.tenant_id = ns.tenant_id;
            if (ns.parent_session_id) who.parent_session_id = *ns.parent_session_id;
            if (ns.fork_at_message) who.fork_at_message = *ns.fork_at_message;
            who.warm = warm;
            who.epoch = rec->epoch;
            auto actor = start(self, std::move(who));
            if (warm)  // the pool's slot is this session's now
              self->send(self->state.deps.sessions.admission, atom::acquire_v, atom::warm_v, actor,
                         ns.tenant_id);
            rp.deliver(id, actor);
          },
          [=](caf::error& e) mutable {
            cancel_answered_timeout(self);
            give_back();
            rp.deliver(std::move(e));
          });
}

}  // namespace registry_detail

namespace {

using namespace registry_detail;

registry_actor::behavior_type registry(self_ptr self, registry_deps deps) {
  self->state.deps = std::move(deps);
  self->set_exit_handler([=](caf::exit_msg& em) {
    // A session ending is handled by the down handler; anything else stops the registry. A
    // deleted session is no longer in `live` when its (normal) exit arrives: a normal exit
    // never stops the registry, or one DELETE would take every session down with it.
    if (!em.reason || em.reason == caf::exit_reason::normal) return;
    for (auto& [id, e] : self->state.live)
      if (e.actor.address() == em.source) return;
    self->quit(em.reason);
  });
  self->set_down_handler([=](caf::down_msg& dm) {
    auto& live = self->state.live;
    for (auto it = live.begin(); it != live.end(); ++it)
      if (it->second.actor.address() == dm.source) {
        live.erase(it);
        publish(self->state);
        return;
      }
    auto& remote = self->state.remote;
    for (auto it = remote.begin(); it != remote.end(); ++it)
      if (it->second.actor.address() == dm.source) {
        remote.erase(it);
        return;
      }
  });
  return {
      [=](atom::create, new_session& ns) -> caf::result<std::string, session_actor> {
        if (self->state.draining) return make_error(errc::unavailable, "draining");
        auto rp = self->make_response_promise<std::string, session_actor>();
        create(self, std::move(ns), nullptr, rp);
        return rp;
      },
      [=](atom::create, new_session& ns,
          turn_spec_ptr& spec) -> caf::result<std::string, session_actor> {
        if (self->state.draining) return make_error(errc::unavailable, "draining");
        auto rp = self->make_response_promise<std::string, session_actor>();
        place(self, std::move(ns), spec, rp);
        return rp;
      },
      [=](atom::create, new_session& ns,
          const portable_turn& turn) -> caf::result<std::string, session_actor> {
        auto& st = self->state;
        if (st.draining) return make_error(errc::unavailable, "draining");
        if (!st.deps.sessions.rebuild_turn)
          return make_error(errc::unavailable, "this node does not take forwarded turns");
        if (turn.tenant_id != ns.tenant_id)
          return make_error(errc::validation, "the turn and the session name other tenants");
        auto spec = st.deps.sessions.rebuild_turn(turn);
        if (!spec) return std::move(spec.error());
        auto rp = self->make_response_promise<std::string, session_actor>();
        create_here(self, std::move(ns), *spec, rp);
        return rp;
      },
      [=](atom::find, std::string& tenant_id, std::string& id) -> caf::result<session_actor> {
        auto& st = self->state;
        if (auto it = st.live.find(id); it != st.live.end()) {
          if (it->second.tenant_id != tenant_id)
            return make_error(errc::session_not_found, "no such session");
          return it->second.actor;
        }
        if (auto it = st.remote.find(id); it != st.remote.end()) {
          if (it->second.tenant_id != tenant_id)
            return make_error(errc::session_not_found, "no such session");
          return it->second.actor;
        }
        auto rp = self->make_response_promise<session_actor>();
        auto& waiters = st.loading[{tenant_id, id}];
        waiters.push_back(rp);
        if (waiters.size() == 1) revive(self, tenant_id, id);
        return rp;
      },
      [=](atom::find, std::string& tenant_id, std::string& id,
          bool) -> caf::result<storage::db_result> {
        auto& st = self->state;
        auto it = st.live.find(id);
        if (it != st.live.end() && it->second.tenant_id == tenant_id)
          return self->delegate(it->second.actor, atom::find_v);
        return self->delegate(st.deps.sessions.pg, storage::make_get_session_query(tenant_id, id));
      },
      [=](atom::remove, std::string& id) {
        self->state.live.erase(id);
        publish(self->state);
      },
      [=](atom::drain) -> caf::result<bool> {
        auto& st = self->state;
        st.draining = true;
        for (auto& [id, e] : st.live) self->send(e.actor, atom::drain_v);
        auto rp = self->make_response_promise<bool>();
        // Running turns get the grace period (polled: an idle node drains at once); then every
        // turn is interrupted and every process ended; then the registry answers.
        st.drain_deadline =
            self->clock().now() +
            std::chrono::duration_cast<caf::actor_clock::duration_type>(st.deps.drain_grace);
        st.drain_promise = rp;
        self->send(self, atom::drain_poll_v);
        return rp;
      },
      [=](atom::drain_poll) { poll_busy(self); },
      [=](atom::drain_stop) { stop_turns(self); },
      [=](atom::drain_rest) { rest_sessions(self); },
      [=](atom::drain_done) { finish_drain(self); },
  };
}

}  // namespace

registry_actor spawn_registry(caf::actor_system& sys, registry_deps deps) {
  return sys.spawn(registry, std::move(deps));
}

}  // namespace caa
