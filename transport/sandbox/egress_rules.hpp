#pragma once

// The pure rules of the egress proxy: the allow-list entries and the one request it accepts.
// No I/O; unit-tested.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace caa::sandbox::detail {

/// One allow-list entry, parsed.
struct allow_entry {
  std::string host;         ///< lower-case name or IP literal (IPv6 without brackets)
  bool subdomains = false;  ///< `.name` / `*.name`: strict subdomains of `host`
  bool literal = false;     ///< `host` is an IP literal (matched only as written)
  uint16_t port = 0;        ///< the one port allowed; 0: 443 and 80
};

/// `text` as an entry, or nothing when it is not one (see `egress_config::allow`).
std::optional<allow_entry> parse_entry(std::string_view text);

/// Whether `host` would be read as an address rather than a name: it holds a ':' (IPv6) or its
/// last label is a number (decimal, or hex with 0x), as in "10.1", "2130706433", "0x7f.1".
bool is_ip_like(std::string_view host) noexcept;

/// The target of an accepted CONNECT request.
struct connect_target {
  std::string host;  ///< lower-case, no trailing dot; IPv6 without brackets
  uint16_t port = 0;
};

/// The target of `head` (a request head up to its empty line), or the status to refuse it
/// with: 405 for another method, 400 when the request line, version or authority is malformed.
std::variant<connect_target, unsigned> parse_connect(std::string_view head);

}  // namespace caa::sandbox::detail
