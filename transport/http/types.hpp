#pragma once

#include "config/errc.hpp"
#include "config/secret.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace caa::auth {
class passkey_issuer;
}  // namespace caa::auth

namespace caa::http {

/// A key's permissions.
enum class scope : uint8_t { agent, admin };

/// Who may call a route. Every route declares one; there is no default.
enum class route_policy : uint8_t { public_route, requires_agent, requires_admin };

/// Which body limit and rate-limit bucket a route uses.
enum class route_class : uint8_t { general, query };

/// Proof that a `principal` was made by the authentication module: only it can make one.
class auth_passkey {
  friend class caa::auth::passkey_issuer;
  auth_passkey() = default;
};

/// An authenticated caller. Only the auth module can construct one (it needs an `auth_passkey`).
class principal {
 public:
  principal(auth_passkey, std::string tenant_id, std::string tenant_name, std::string key_id,
            bool agent, bool admin, int64_t agent_slot = -1)
      : tenant_id_(std::move(tenant_id)),
        tenant_name_(std::move(tenant_name)),
        key_id_(std::move(key_id)),
        agent_(agent),
        admin_(admin),
        agent_slot_(agent_slot) {}

  /// The tenant's UUID.
  const std::string& tenant_id() const noexcept { return tenant_id_; }
  /// The tenant's name (e.g. "default").
  const std::string& tenant_name() const noexcept { return tenant_name_; }
  /// The key's UUID (never the key itself).
  const std::string& key_id() const noexcept { return key_id_; }
  /// Whether the key holds `s` (admin implies agent).
  bool has(scope s) const noexcept { return s == scope::admin ? admin_ : (agent_ || admin_); }
  /// The tenant's slot in the agent sandbox's uid range (-1: unknown).
  int64_t agent_slot() const noexcept { return agent_slot_; }

 private:
  std::string tenant_id_;
  std::string tenant_name_;
  std::string key_id_;
  bool agent_;
  bool admin_;
  int64_t agent_slot_;
};

/// An HTTP response produced by a handler (JSON unless said otherwise).
struct response {
  unsigned status = 200;
  std::string body;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
};

/// One request after the edge's stages: limits applied, route matched, caller authenticated.
struct request {
  std::string method;                          ///< "GET", "POST", ...
  std::string path;                            ///< decoded path, without the query string
  std::string query;                           ///< raw query string (never logged)
  std::string route_template;                  ///< e.g. "/api/v1/sessions/{id}"
  std::map<std::string, std::string> params;   ///< path parameters, already validated
  std::map<std::string, std::string> headers;  ///< lower-cased names; auth headers removed
  std::string body;
  std::string correlation_id;
  std::string client_ip;
  std::optional<principal> caller;  ///< set unless the route is public
  /// The `Authorization: Bearer` credential, kept only on public routes for one that has its own
  /// token (`/metrics` with METRICS_TOKEN); a `secret`, so never logged.
  std::optional<secret> bearer;
  std::chrono::steady_clock::time_point received;

  /// The value of query parameter `name`, percent-decoded, if present.
  std::optional<std::string> query_param(const std::string& name) const;
  /// The value of header `name` (lower case), if present.
  std::optional<std::string> header(const std::string& name) const;
};

/// A server-sent-events (or other streamed) response body. Thread-safe; bounded.
class stream_sink {
 public:
  virtual ~stream_sink() = default;
  /// Queues `chunk` for writing. Returns false when the client is gone or the queue is over its
  /// byte budget (the connection is then closed: the client reconnects and replays).
  virtual bool push(std::string chunk) = 0;
  /// Whether the queue has room (below half its budget). A producer that pushes only while
  /// this holds, and waits with `when_writable` otherwise, is never cut for being fast: the
  /// queue stays bounded and a slow reader only slows its own stream.
  virtual bool writable() const { return open(); }
  /// Calls `f` once, on any thread, when the stream is writable again or has ended (at once
  /// when it is writable or ended now). Never called with a lock of the sink held.
  // By value: implementations keep `f` until there is room.
  // NOLINTNEXTLINE(performance-unnecessary-value-param)
  virtual void when_writable(std::function<void()> f) { f(); }
  /// Holds the chunks pushed from now on (they count against the budget at once) and hands
  /// them to the connection together at `uncork`, or sooner once they are many: a producer
  /// brackets a batch of events with the two, so the batch goes out in one write.
  virtual void cork() {}
  /// Hands the chunks held since `cork` to the connection.
  virtual void uncork() {}
  /// Ends the stream after the queued (and held) chunks are written.
  virtual void close() = 0;
  /// Whether the client is still connected and the stream open.
  virtual bool open() const = 0;
  /// Registers `f`, called once (on any thread) when the stream ends for any reason.
  virtual void on_closed(std::function<void()> f) = 0;
};

/// The handle a handler uses to answer. Exactly one of `send` or `stream` may be called,
/// once; from any thread (the edge posts back to the connection's strand).
class responder {
 public:
  virtual ~responder() = default;
  /// Sends a complete response.
  virtual void send(response r) = 0;
  /// Sends an error through the one error envelope.
  virtual void fail(caf::error e) = 0;
  /// Starts a streamed response with `status`, `content_type` and extra `headers`.
  virtual std::shared_ptr<stream_sink> stream(
      unsigned status, std::string content_type,
      std::vector<std::pair<std::string, std::string>> headers) = 0;
};

/// A route handler. It must not block: it answers later through `res`.
using handler = std::function<void(std::shared_ptr<request> req, std::shared_ptr<responder> res)>;

/// Decision of the rate limiter for one request.
struct rate_decision {
  bool allowed = true;
  double retry_after_seconds = 0;
};

/// The authentication stage. Implemented by the auth module; asynchronous, never blocks.
class authenticator {
 public:
  virtual ~authenticator() = default;
  /// Resolves `presented_key` (from `X-API-Key` or `Authorization: Bearer`) and calls `done`
  /// exactly once, on any thread, with the principal or an error (`errc::unauthenticated`,
  /// `errc::unavailable`).
  virtual void authenticate(std::string presented_key,
                            std::function<void(std::optional<principal>, caf::error)> done) = 0;
  /// Whether `presented_key` authenticated successfully a short while ago (its lookup still
  /// decides): such a key is not held back by its address's failed-authentication limit.
  virtual bool vouched(const std::string& presented_key) { return false; }
};

/// The rate-limit stage, per key and route class. Asynchronous; never fails a request.
class rate_limiter {
 public:
  virtual ~rate_limiter() = default;
  /// Takes one token of `cls` for `p` and calls `done` exactly once, on any thread.
  virtual void acquire(const principal& p, route_class cls,
                       std::function<void(rate_decision)> done) = 0;
};

}  // namespace caa::http
