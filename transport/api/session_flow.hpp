#pragma once

// Internal to the session routes: the shared state of the handlers, the asynchronous steps they
// chain (registry and session actor calls from one-shot actors, PostgreSQL reads through the
// session repository), and the replay of stored events into a subscriber.

#include "actors/interfaces.hpp"
#include "storage/postgres/session_repository.hpp"
#include "transport/api/sessions.hpp"
#include "transport/api/turn_builder.hpp"
#include "transport/http/router.hpp"
#include "transport/http/types.hpp"

#include <caf/error.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace caa::api {
class resumable_sink;
}  // namespace caa::api

namespace caa::api::detail {

/// The state every session handler shares; immutable after start-up.
struct session_api {
  session_api_context ctx;               ///< as given to `add_session_routes`
  storage::session_repository sessions;  ///< tenant-scoped reads

  /// Builds the repository over `ctx.pg` with `ctx.db_timeout`.
  explicit session_api(const session_api_context& c);
};

/// Handle of the shared state.
using session_api_ptr = std::shared_ptr<const session_api>;

/// Receives an error (on any thread).
using error_fn = std::function<void(caf::error)>;

/// A response of `status` with a JSON `body`.
http::response json_body(unsigned status, std::string body);

/// Fails `res` with the error (an error_fn for the steps above).
error_fn fail_with(const std::shared_ptr<http::responder>& res);

/// A route handler that calls `f(api, req, res)`.
template <class F>
http::handler bind_api(const session_api_ptr& api, F f) {
  return [api, f](std::shared_ptr<http::request> req, std::shared_ptr<http::responder> res) {
    f(api, std::move(req), std::move(res));
  };
}

/// The headers of every SSE response: no caching, no proxy buffering.
std::vector<std::pair<std::string, std::string>> sse_headers();

/// Finds the actor of session `id` of `tenant_id` (session_not_found for another tenant's).
void find_session(const session_api& api, std::string tenant_id, std::string id,
                  std::function<void(session_actor)> ok, error_fn fail);

/// Creates a session through the registry once the tenant's spend check passed (else
/// BUDGET_EXCEEDED, and nothing is created); `ok` gets the new id and its actor.
void create_session(const session_api& api, new_session ns,
                    std::function<void(std::string, session_actor)> ok, error_fn fail);

/// Creates the session of first turn `spec` (a warm process with the same spawn options may
/// become its process) once the tenant's spend check passed; `ok` gets the new id and its actor.
void create_session(const session_api& api, new_session ns, turn_spec_ptr spec,
                    std::function<void(std::string, session_actor)> ok, error_fn fail);

/// Starts a turn in `actor` (SESSION_LOCKED, CAPACITY_EXHAUSTED, SERVICE_UNAVAILABLE, ...).
void run_turn(const session_api& api, session_actor actor, turn_spec_ptr spec,
              std::function<void(turn_accepted)> ok, error_fn fail);

/// Calls `f` on a CAF thread soon (work that must not run on an I/O thread, e.g. disk checks).
void run_async(caf::actor_system& sys, std::function<void()> f);

/// Calls `f` on a CAF thread after `delay`.
void run_after(caf::actor_system& sys, caf::timespan delay, std::function<void()> f);

/// When `after` lies in a hole of the stored history (events an async session sent and lost,
/// `page` read after `after`), delivers the `gap` event naming the hole to `sink` and moves
/// `after` to the hole's end. False: the sink refused it.
bool deliver_gap(event_sink& sink, uint64_t& after, const storage::event_page& page);

/// Feeds `sink` every stored event of session `id` after `after` (PostgreSQL, page by page,
/// paced so a burst stays within an SSE stream's byte budget), then subscribes it to the live
/// session from the last replayed seq. A subscribe answered `conflict` (the session's memory
/// window moved past that seq) replays once more. `actor` may be empty: the session is then
/// found through the registry after the replay. Any error ends the subscriber with
/// `sink->close()` (its client reconnects with Last-Event-ID); so does a refused event.
void replay_and_subscribe(session_api_ptr api, std::string tenant_id, std::string id,
                          event_sink_ptr sink, uint64_t after, session_actor actor);

/// Like `replay_and_subscribe`, but subscribes first and replays only when the session answers
/// `conflict` (the turn's events are normally still in its memory window).
void subscribe_or_replay(session_api_ptr api, std::string tenant_id, std::string id,
                         event_sink_ptr sink, uint64_t after, session_actor actor);

/// Lets stream `sink` of session `id` (SSE, or OpenAI's SSE) go on when it falls behind the
/// session's memory (a reader slower than its agent by more than the session keeps): it replays the
/// events it missed from PostgreSQL, then subscribes again, as `replay_and_subscribe` does, instead
/// of ending. Every lag of the stream does so while the stream is open.
void catch_up_when_lagged(const session_api_ptr& api, const std::string& tenant_id,
                          const std::string& id, const std::shared_ptr<resumable_sink>& sink);

/// What answers an accepted turn: called once, on a CAF thread, with the session's actor.
using accepted_fn = std::function<void(const session_actor&, const turn_accepted&)>;

/// Runs the turn of API turn body `body` (decoded and validated as the turn routes do, with the
/// caller's policy) on route `route` (`path_id`: the `{id}` of resume and fork): finds or
/// creates the session, starts the turn and hands the acceptance to `accepted`. Every error up
/// to then goes to `res->fail`. Returns at once; the work runs on a CAF thread.
void start_turn_request(session_api_ptr api, std::shared_ptr<http::request> req,
                        std::shared_ptr<http::responder> res, std::string body, turn_route route,
                        std::string path_id, accepted_fn accepted);

/// Adds `POST /api/v1/query`, `/query/single`, `.../{id}/resume` and `.../{id}/fork`.
void add_query_routes(http::router& r, const session_api_ptr& api);

/// Ends the SSE stream of `sink` when key `key_id` is revoked (if connections are watched).
void watch_stream(const session_api& api, const std::string& key_id, const event_sink_ptr& sink);

/// Adds `GET /api/v1/sessions`, `GET` and `DELETE .../{id}`, `POST .../{id}/interrupt` and
/// `GET /api/v1/capabilities`.
void add_session_resource_routes(http::router& r, const session_api_ptr& api);

/// Adds the OpenAI-compatible chat routes: `GET /v1/models`, `POST /v1/chat/completions`.
void add_openai_chat_routes(http::router& r, const session_api_ptr& api);

/// Adds the OpenAI Responses routes: `POST /v1/responses`, `GET /v1/responses/{id}`,
/// `POST /v1/responses/{id}/cancel`.
void add_openai_response_routes(http::router& r, const session_api_ptr& api);

/// Adds `GET /api/v1/sessions/{id}/events` (JSON pages, or SSE attach).
void add_event_routes(http::router& r, const session_api_ptr& api);

}  // namespace caa::api::detail
