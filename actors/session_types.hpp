#pragma once

// Message types of the session actors. Most payloads are local only (shared pointers to
// immutable data or to a connection's sink): they never cross the network, which is why they
// are whitelisted with CAF_ALLOW_UNSAFE_MESSAGE_TYPE at the end of this file.

#include "transport/claude/argv.hpp"
#include "transport/claude/options.hpp"

#include <caf/actor_addr.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/expected.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/optional.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace caa {

class cli_process;

/// Where a session's events go: one SSE or WebSocket subscriber. Implemented by the transport;
/// thread-safe; must never block (it queues, bounded, and reports a slow reader as gone).
class event_sink {
 public:
  virtual ~event_sink() = default;
  /// Delivers event `seq` named `name` (API.md "SSE stream") with one-line JSON `data`.
  /// Returns false when the subscriber is gone or too slow: the session then drops it (the
  /// client reconnects with Last-Event-ID and replays from PostgreSQL).
  virtual bool deliver(uint64_t seq, std::string_view name, std::string_view data) = 0;
  /// Whether the subscriber is still connected.
  virtual bool open() const = 0;
  /// Brackets a batch of deliveries (the session delivers all it has for this subscriber
  /// between the two): a transport may send the batch as one write.
  virtual void cork() {}
  virtual void uncork() {}
  /// Ends the subscription (the session is deleted or the service drains).
  virtual void close() = 0;
  /// Whether the subscriber's queue has room for more. The session delivers only while this
  /// holds and otherwise waits with `when_writable`: a slow reader slows its own stream only.
  virtual bool writable() const { return true; }
  /// Calls `f` once, on any thread, when the subscriber is writable again or gone (at once when
  /// it is writable or gone now).
  // By value: implementations keep `f` until there is room.
  // NOLINTNEXTLINE(performance-unnecessary-value-param)
  virtual void when_writable(std::function<void()> f) { f(); }
  /// The subscriber fell so far behind that the events it needs next left the session's
  /// memory: it must replay from storage. Ends the subscription; the session does not close
  /// the sink after it. (SSE: the stream goes on from PostgreSQL and subscribes again, or,
  /// without a way back, ends and the client reconnects with Last-Event-ID; WebSocket: the
  /// connection closes with 1008.)
  virtual void lagged() { close(); }
  /// The subscriber took nothing for STREAM_STALL_TIMEOUT while events waited for it: it is
  /// cut. By default told so (`lagged`: a WebSocket closes with 1008), then closed; a stream
  /// that would go on from storage when it lags is only closed.
  virtual void stalled() {
    lagged();
    close();
  }
};

/// A subscriber handle (local only).
using event_sink_ptr = std::shared_ptr<event_sink>;

/// Everything a session needs to run one turn, and to (re)spawn its CLI for it.
struct turn_spec {
  std::string prompt;                       ///< the user message text
  std::vector<claude::image_input> images;  ///< images sent with it
  claude::query_options options;            ///< spawn-time options (paths absolute, resolved)
  claude::driver_config driver;             ///< CLI path, tenant dirs, Anthropic settings
  std::string options_json;                 ///< the stored form of the spawn options
  std::string cwd_relative;                 ///< the cwd relative to the tenant workspace
  std::string hooks_json;                   ///< validated `hooks` of the request, or empty
  std::string tenant_name;                  ///< the caller's tenant name (its decode policy)
  int64_t agent_slot = -1;                  ///< the tenant's slot in the sandbox uid range
  bool async_events = false;  ///< durability `async`: events are sent before they are stored
};

/// An immutable turn (local only).
using turn_spec_ptr = std::shared_ptr<const turn_spec>;

/// A turn as it crosses the cluster link to the node that owns its session: what that node needs
/// to build the `turn_spec` again under its own settings and workspace (`options_json` is decoded
/// there with the tenant's policy, exactly like a session's stored options).
struct portable_turn {
  std::string tenant_id;
  std::string tenant_name;
  int64_t agent_slot = -1;
  std::string prompt;
  std::vector<claude::image_input> images;
  std::string options_json;
  bool async_events = false;  ///< the turn's durability, as the receiving node decided it
};

/// The portable form of `spec`.
inline portable_turn portable_of(const turn_spec& spec) {
  return {spec.driver.tenant_id, spec.tenant_name,  spec.agent_slot,  spec.prompt,
          spec.images,           spec.options_json, spec.async_events};
}

/// Builds the spec of a forwarded turn on the node that runs it (set by the service: the
/// decoding and path rules live in the API layer).
using turn_rebuilder = std::function<caf::expected<turn_spec_ptr>(const portable_turn&)>;

/// The answer to `run`: the turn was accepted; events after `after_seq` belong to it.
struct turn_accepted {
  std::string session_id;  ///< the API session id
  uint64_t after_seq = 0;  ///< the last event id before this turn
  uint32_t turn = 0;       ///< the turn number (1-based)
};

/// Where the stdout lines and the exit of one CLI process go: an actor and a generation. The
/// warm pool re-points it when it hands a pre-started process to a session. Thread-safe.
class cli_route {
 public:
  /// Routes to `addr` as generation `gen` from now on.
  void set(caf::actor_addr addr, uint64_t gen) {
    std::lock_guard<std::mutex> lock{mutex_};
    addr_ = std::move(addr);
    gen_ = gen;
  }
  /// The current target.
  std::pair<caf::actor_addr, uint64_t> get() const {
    std::lock_guard<std::mutex> lock{mutex_};
    return {addr_, gen_};
  }

 private:
  mutable std::mutex mutex_;
  caf::actor_addr addr_;
  uint64_t gen_ = 0;
};

/// A CLI process started ahead of demand by the warm pool (local only).
struct warm_process {
  std::string session_id;             ///< its `--session-id`: the new session's id
  std::shared_ptr<cli_process> proc;  ///< running, `initialize` already written
  std::shared_ptr<cli_route> route;   ///< re-pointed to the session that takes it
  turn_spec_ptr spec;                 ///< the spec it was started for
};

/// A warm process handle (local only).
using warm_process_ptr = std::shared_ptr<warm_process>;

/// A new session to create (row first, then actor).
struct new_session {
  std::string tenant_id;
  caf::optional<std::string> parent_session_id;  ///< set for forks
  caf::optional<std::string> fork_at_message;    ///< `at_message_id` of a fork
  std::string options_json;                      ///< spawn options, stored for respawns
  caf::optional<std::string> model;
  std::string permission_mode = "default";
  std::string cwd_relative;
  caf::optional<std::string> title;
  std::vector<std::string> tags;
};

/// A client's answer to a pending `permission_request` or `question` (API.md answer route and
/// WebSocket `answer` frame), decoded and shape-checked by the transport.
struct pending_answer {
  std::string request_id;                    ///< empty: the single pending question (`answer`)
  std::string behavior;                      ///< "allow", "deny", or empty for question answers
  caf::optional<std::string> updated_input;  ///< compact JSON object (allow)
  caf::optional<std::string> message;        ///< reason of a deny
  caf::optional<std::string> answers;        ///< compact JSON object: question text -> label(s)
  caf::optional<std::string> answer;         ///< free text for the single pending question
};

/// A live change of a session (API.md control route, WebSocket `control` frame); `value` is
/// already validated (a permission mode allowed for the tenant, or a model name).
struct live_control {
  std::string kind;          ///< "permission_mode" or "model"
  std::string value;         ///< the new mode or model ("default" resets the model)
  std::string options_json;  ///< the stored spawn options with the change applied (or empty)
};

/// Process-budget numbers, for tests and /metrics.
struct admission_stats {
  uint32_t budget = 0;         ///< MAX_AGENT_PROCESSES
  uint32_t live = 0;           ///< slots held
  uint32_t idle = 0;           ///< held by idle sessions (hibernation candidates)
  uint32_t waiting = 0;        ///< turns waiting for a slot
  uint64_t granted = 0;        ///< slots granted so far
  uint64_t refused = 0;        ///< 503s so far
  uint32_t peak_live = 0;      ///< most slots ever held at once
  uint32_t starting = 0;       ///< granted processes that have not written a line yet
  uint32_t peak_starting = 0;  ///< most starts at once
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, turn_accepted& x) {
  return f(caf::meta::type_name("caa::turn_accepted"), x.session_id, x.after_seq, x.turn);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, portable_turn& x) {
  return f(caf::meta::type_name("caa::portable_turn"), x.tenant_id, x.tenant_name, x.agent_slot,
           x.prompt, x.images, x.options_json, x.async_events);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, new_session& x) {
  return f(caf::meta::type_name("caa::new_session"), x.tenant_id, x.parent_session_id,
           x.fork_at_message, x.options_json, x.model, x.permission_mode, x.cwd_relative, x.title,
           x.tags);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, pending_answer& x) {
  return f(caf::meta::type_name("caa::pending_answer"), x.request_id, x.behavior, x.updated_input,
           x.message, x.answers, x.answer);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, live_control& x) {
  return f(caf::meta::type_name("caa::live_control"), x.kind, x.value, x.options_json);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, admission_stats& x) {
  return f(caf::meta::type_name("caa::admission_stats"), x.budget, x.live, x.idle, x.waiting,
           x.granted, x.refused, x.peak_live, x.starting, x.peak_starting);
}

}  // namespace caa

namespace caa::claude {

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, image_input& x) {
  return f(caf::meta::type_name("caa::claude::image_input"), x.media_type, x.data);
}

}  // namespace caa::claude

// Local only: a connection's sink and an immutable turn never leave this process.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(caa::event_sink_ptr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(caa::turn_spec_ptr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(caa::warm_process_ptr)
