#include "transport/api/session_flow.hpp"

#include "config/logging.hpp"
#include "config/metrics_catalog.hpp"
#include "storage/bridge.hpp"
#include "storage/postgres/usage_queries.hpp"
#include "transport/api/sse_sink.hpp"
#include "transport/json/api_events.hpp"

#include <caf/event_based_actor.hpp>

#include <chrono>

namespace caa::api::detail {

namespace {

using namespace std::chrono_literals;

/// Events read per PostgreSQL page during a replay.
constexpr unsigned replay_page_events = 200;

/// One replay in progress; owned by the callbacks of its current step.
struct replay_job {
  session_api_ptr api;
  std::string tenant_id;
  std::string id;
  event_sink_ptr sink;
  uint64_t after = 0;
  session_actor actor;
  int replays_left = 2;
  bool replayed = false;  ///< a page from storage went out (not a subscription alone)
};

using job_ptr = std::shared_ptr<replay_job>;

/// Ends `job`'s stream after `what` failed with `e` (logged: a stream that ends early is news).
void end_job(const replay_job& job, const char* what, const caf::error& e) {
  log::info(what, {.component = "api",
                   .session_id = job.id,
                   .error_code = to_string(errc_of(e)),
                   .detail = "its event stream ends",
                   .count = job.after});
  job.sink->close();
}

void replay_page(const job_ptr& job);

void subscribe_step(const job_ptr& job) {
  if (!job->sink->open()) return;
  if (!job->actor) {
    auto& api = *job->api;
    find_session(
        api, job->tenant_id, job->id,
        [job](session_actor a) {
          job->actor = std::move(a);
          subscribe_step(job);
        },
        [job](const caf::error& e) { end_job(*job, "the session was not found again", e); });
    return;
  }
  auto& ctx = job->api->ctx;
  caa::async_request<uint64_t>(
      *ctx.sys, job->actor, ctx.request_timeout,
      [job](uint64_t) {
        if (job->replayed)
          log::info("a stream caught up from storage follows its session again",
                    {.component = "api", .session_id = job->id, .count = job->after});
      },
      [job](const caf::error& e) {
        if (errc_of(e) == errc::conflict && --job->replays_left > 0)
          replay_page(job);
        else
          end_job(*job, "the session refused the subscription", e);
      },
      atom::subscribe_v, job->sink, job->after);
}

void on_page(const job_ptr& job, const storage::event_page& page) {
  if (!deliver_gap(*job->sink, job->after, page)) {
    job->sink->close();
    return;
  }
  for (auto& e : page.events) {
    if (!job->sink->writable()) {
      // The client reads slower than the database pages: go on (from `after`) once its
      // queue has room again. The rest of this page is read again then.
      if (job->sink->open()) job->sink->when_writable([job] { replay_page(job); });
      return;
    }
    if (!job->sink->deliver(e.seq, e.type, e.payload_json)) {
      job->sink->close();
      return;
    }
    job->after = e.seq;
    job->replayed = true;
  }
  if (!job->sink->open()) return;  // e.g. the stream of one turn ended with its `done`
  bool more = !page.events.empty() && page.events.back().seq < page.last_seq;
  more ? replay_page(job) : subscribe_step(job);
}

void replay_page(const job_ptr& job) {
  auto& api = *job->api;
  api.sessions.read_events(
      job->tenant_id, job->id, job->after, replay_page_events,
      [job](const storage::event_page& page) { on_page(job, page); },
      [job](const caf::error& e) { end_job(*job, "a replay's read failed", e); });
}

}  // namespace

bool deliver_gap(event_sink& sink, uint64_t& after, const storage::event_page& page) {
  // `after` is stored, or nothing is stored above it yet (the session's actor knows the rest).
  if (after == 0 || page.stored_up_to_after >= after || page.events.empty()) return true;
  auto from = page.stored_up_to_after + 1;
  auto to = page.events.front().seq - 1;
  if (after >= to) return true;  // the hole's last id is the gap's own: it got the gap already
  if (!sink.deliver(to, "gap", gap_event_data(from, to))) return false;
  after = to;
  return true;
}

void watch_stream(const session_api& api, const std::string& key_id, const event_sink_ptr& sink) {
  if (!api.ctx.watch_connection) return;
  std::weak_ptr<event_sink> weak = sink;
  api.ctx.watch_connection(key_id, sink, [weak] {
    if (auto s = weak.lock()) s->close();
  });
}

session_api::session_api(const session_api_context& c)
    : ctx(c), sessions(*c.sys, c.pg, c.db_timeout) {}

std::vector<std::pair<std::string, std::string>> sse_headers() {
  return {{"Cache-Control", "no-cache"}, {"X-Accel-Buffering", "no"}};
}

void find_session(const session_api& api, std::string tenant_id, std::string id,
                  std::function<void(session_actor)> ok, error_fn fail) {
  caa::async_request<session_actor>(*api.ctx.sys, api.ctx.registry, api.ctx.request_timeout,
                                    std::move(ok), std::move(fail), atom::find_v,
                                    std::move(tenant_id), std::move(id));
}

namespace {

/// The spend check before a session exists: `next` when the tenant is under its caps, else
/// BUDGET_EXCEEDED (503 when the check itself fails: a cap that cannot be verified is not
/// waived). A new session takes a warm process when it is created, which a refused turn would
/// otherwise leave held by an empty session; a fork would stay behind empty. (The session checks
/// again when the turn runs: this check only keeps refused turns from creating sessions.)
void when_under_caps(const session_api& api, const std::string& tenant, std::function<void()> next,
                     const error_fn& fail) {
  auto answer = [next = std::move(next), fail](const storage::db_result& r) {
    auto state = storage::parse_budget(r);
    if (!state) return fail(make_error(errc::unavailable, "spend check"));
    if (*state)
      if (auto breach = storage::breach_of(**state))
        return fail(budget_error(breach->cap, breach->resets_at));
    next();
  };
  caa::async_request<storage::db_result>(*api.ctx.sys, api.ctx.pg, api.ctx.db_timeout,
                                         std::function<void(storage::db_result)>{std::move(answer)},
                                         std::function<void(caf::error)>{[fail](const caf::error&) {
                                           fail(make_error(errc::unavailable, "spend check"));
                                         }},
                                         storage::make_budget_check_query(tenant));
}

}  // namespace

void create_session(const session_api& api, new_session ns,
                    std::function<void(std::string, session_actor)> ok, error_fn fail) {
  auto tenant = ns.tenant_id;
  when_under_caps(
      api, tenant,
      [&api, ns = std::move(ns), ok, fail]() mutable {
        // Dependencies go in as spawn arguments (not captures) to keep 0.17.6 UBSan-clean.
        api.ctx.sys->spawn(
            [](caf::event_based_actor* self, const registry_actor& reg, caf::timespan t,
               new_session n, const std::function<void(std::string, session_actor)>& on_ok,
               const error_fn& on_fail) {
              self->request(reg, t, atom::create_v, std::move(n))
                  .then([on_ok](std::string& id,
                                session_actor& a) { on_ok(std::move(id), std::move(a)); },
                        [on_fail](caf::error& e) { on_fail(std::move(e)); });
            },
            api.ctx.registry, api.ctx.request_timeout, std::move(ns), std::move(ok),
            std::move(fail));
      },
      fail);
}

namespace {
void spawn_create(const session_api& api, new_session ns, turn_spec_ptr spec,
                  std::function<void(std::string, session_actor)> ok, error_fn fail);
}  // namespace

void create_session(const session_api& api, new_session ns, turn_spec_ptr spec,
                    std::function<void(std::string, session_actor)> ok, error_fn fail) {
  auto tenant = ns.tenant_id;
  when_under_caps(
      api, tenant,
      [&api, ns = std::move(ns), spec = std::move(spec), ok, fail]() mutable {
        spawn_create(api, std::move(ns), std::move(spec), std::move(ok), std::move(fail));
      },
      fail);
}

namespace {
void spawn_create(const session_api& api, new_session ns, turn_spec_ptr spec,
                  std::function<void(std::string, session_actor)> ok, error_fn fail) {
  api.ctx.sys->spawn(
      [](caf::event_based_actor* self, const registry_actor& reg, caf::timespan t, new_session n,
         turn_spec_ptr sp, const std::function<void(std::string, session_actor)>& on_ok,
         const error_fn& on_fail) {
        self->request(reg, t, atom::create_v, std::move(n), std::move(sp))
            .then(
                [on_ok](std::string& id, session_actor& a) { on_ok(std::move(id), std::move(a)); },
                [on_fail](caf::error& e) { on_fail(std::move(e)); });
      },
      api.ctx.registry, api.ctx.request_timeout, std::move(ns), std::move(spec), std::move(ok),
      std::move(fail));
}
}  // namespace

void run_turn(const session_api& api, session_actor actor, turn_spec_ptr spec,
              std::function<void(turn_accepted)> ok, error_fn fail) {
  caa::async_request<turn_accepted>(*api.ctx.sys, std::move(actor), api.ctx.run_timeout,
                                    std::move(ok), std::move(fail), atom::run_v, std::move(spec));
}

http::response json_body(unsigned status, std::string body) {
  http::response out;
  out.status = status;
  out.body = std::move(body);
  return out;
}

error_fn fail_with(const std::shared_ptr<http::responder>& res) {
  return [res](caf::error e) { res->fail(std::move(e)); };
}

void run_async(caf::actor_system& sys, std::function<void()> f) {
  // An event-based actor runs its init function on a scheduler thread, never the caller's.
  sys.spawn(
      [](caf::event_based_actor* self, const std::function<void()>& fn) {
        fn();
        self->quit();
      },
      std::move(f));
}

void run_after(caf::actor_system& sys, caf::timespan delay, std::function<void()> f) {
  sys.spawn(
      [](caf::event_based_actor* self, caf::timespan d,
         const std::function<void()>& fn) -> caf::behavior {
        self->delayed_send(self, d, caf::tick_atom_v);
        return {[self, fn](caf::tick_atom) {
          fn();
          self->quit();
        }};
      },
      delay, std::move(f));
}

namespace {

/// A replay job of `sink` for session `id` after `after`.
std::shared_ptr<replay_job> make_job(session_api_ptr api, std::string tenant_id, std::string id,
                                     event_sink_ptr sink, uint64_t after, session_actor actor) {
  auto job = std::make_shared<replay_job>();
  job->api = std::move(api);
  job->tenant_id = std::move(tenant_id);
  job->id = std::move(id);
  job->sink = std::move(sink);
  job->after = after;
  job->actor = std::move(actor);
  return job;
}

}  // namespace

void replay_and_subscribe(session_api_ptr api, std::string tenant_id, std::string id,
                          event_sink_ptr sink, uint64_t after, session_actor actor) {
  replay_page(make_job(std::move(api), std::move(tenant_id), std::move(id), std::move(sink), after,
                       std::move(actor)));
}

void catch_up_when_lagged(const session_api_ptr& api, const std::string& tenant_id,
                          const std::string& id, const std::shared_ptr<resumable_sink>& sink) {
  // Weak: the sink keeps its hook, and a replay job keeps the sink.
  std::weak_ptr<resumable_sink> weak = sink;
  sink->on_lagged([api, tenant_id, id, weak] {
    auto s = weak.lock();
    if (!s) return;
    metrics::service().stream_catch_ups.inc();
    // No actor: the session is found again after the replay (it may have moved meanwhile).
    auto after = s->last_seq();
    replay_page(make_job(api, tenant_id, id, std::move(s), after, session_actor{}));
  });
}

void subscribe_or_replay(session_api_ptr api, std::string tenant_id, std::string id,
                         event_sink_ptr sink, uint64_t after, session_actor actor) {
  subscribe_step(make_job(std::move(api), std::move(tenant_id), std::move(id), std::move(sink),
                          after, std::move(actor)));
}

}  // namespace caa::api::detail
