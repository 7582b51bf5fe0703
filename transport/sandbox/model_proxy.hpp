#pragma once

// The model proxy of the agent sandbox. A sandboxed CLI has no network and never holds the
// operator's Anthropic API key: it gets a per-process placeholder key and a unix socket bound
// into its sandbox. The proxy listens on that socket, accepts only the Messages API calls the
// CLI makes (`POST /v1/messages`, `POST /v1/messages/count_tokens`, with any query string),
// checks the placeholder, swaps in the real key, forwards to the operator's upstream, streams the
// answer back as it arrives and counts each tenant's requests and tokens.

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace caa::sandbox {

namespace detail {
struct proxy_core;
}  // namespace detail

/// Where the proxy forwards, and with which key.
struct upstream_config {
  std::string base_url;  ///< e.g. "https://api.anthropic.com" or "http://127.0.0.1:4567"
                         ///< (an optional path prefix is kept)
  std::string api_key;   ///< the operator's real key (a secret: never logged)
  std::chrono::seconds connect_timeout{10};  ///< resolve + connect + TLS handshake
  std::chrono::seconds idle_timeout{300};    ///< no byte either way for this long ends the exchange
  std::size_t max_request_bytes = 32u << 20;  ///< body limit of one request
  std::size_t max_connections = 64;           ///< open connections per endpoint
};

/// Why `cfg` cannot be used (an `errc::validation` error), or an empty error: `base_url` must be
/// an absolute http(s) URL without user info, query or fragment, `api_key` must be non-empty.
caf::error validate(const upstream_config& cfg);

/// What one forwarded request cost (tokens as the upstream reported them).
struct usage_record {
  std::string tenant_id;                     ///< the endpoint's tenant
  std::string session_id;                    ///< the endpoint's session
  uint64_t requests = 0;                     ///< forwarded requests
  uint64_t input_tokens = 0;                 ///< `usage.input_tokens`
  uint64_t output_tokens = 0;                ///< `usage.output_tokens` (the last value)
  uint64_t cache_creation_input_tokens = 0;  ///< `usage.cache_creation_input_tokens`
  uint64_t cache_read_input_tokens = 0;      ///< `usage.cache_read_input_tokens`
  unsigned status = 0;  ///< the upstream's HTTP status; 502 when it gave no response
};

/// The model proxy. Thread-safe; all I/O runs on the given io_context, one strand per
/// connection.
class model_proxy : public std::enable_shared_from_this<model_proxy> {
 public:
  /// A proxy running its I/O on `io` (the service's I/O threads; handlers may run on several
  /// threads). `on_usage` is called once per forwarded exchange, on an I/O thread, until the
  /// last endpoint handle is gone and its exchanges have ended.
  static std::shared_ptr<model_proxy> make(boost::asio::io_context& io, upstream_config cfg,
                                           std::function<void(const usage_record&)> on_usage);

  /// Listens on a new unix socket at `socket_path` (removed first if it exists; created with
  /// mode 0600 and chown'ed to `owner_uid`/`owner_gid` when those are not -1) for one sandboxed
  /// process of `tenant_id`/`session_id` whose only valid key is `placeholder`. Thread-safe.
  /// The returned handle closes the listener, removes the socket file and ends that endpoint's
  /// open exchanges when destroyed.
  caf::expected<std::shared_ptr<void>> open_endpoint(std::string socket_path,
                                                     std::string placeholder, std::string tenant_id,
                                                     std::string session_id, int owner_uid = -1,
                                                     int owner_gid = -1);

  /// Totals per tenant since start (`tenant_id` set, `session_id` empty, `status` 0).
  std::map<std::string, usage_record> totals() const;

  ~model_proxy();
  model_proxy(const model_proxy&) = delete;
  model_proxy& operator=(const model_proxy&) = delete;

 private:
  explicit model_proxy(std::shared_ptr<detail::proxy_core> core);
  std::shared_ptr<detail::proxy_core> core_;
};

/// A fresh random placeholder key (looks like an API key: "sk-ant-sandbox-" + 32 random url-safe
/// chars).
std::string make_placeholder_key();

}  // namespace caa::sandbox
