// libFuzzer target for the request parsing of the HTTP edge (transport/http), in the order of
// http_session: leading empty lines skipped, the strict pre-scan (`header_scanner`, fed in
// fuzzer-chosen chunks as reads arrive), Beast's `request_parser<empty_body>` on exactly the
// scanned header bytes (header_limit = header size + 1, no body limit yet), then the body with
// `request_parser<string_body>` under the edge's body limit (API_MAX_BODY_BYTES's default, or a
// small one so fuzz-sized bodies reach the 413 path) with the edge's chunk-extension guard
// (1024 bytes), then the request as handlers see it (decoded path, query, lower-cased
// headers), its correlation id and client address. Properties:
//   * scanning in chunks never passes what scanning all at once refuses, ends the header at the
//     same byte, and refuses a header the whole scan passes only for a partial request line
//     (no method within 32 bytes, or over 8 KiB + 16 after the method);
//   * a header the scanner passed and Beast parsed has at most 100 fields, names without '_' or
//     control characters, a target of at most 8 KiB;
//   * a parsed body never exceeds the limit (a declared Content-Length over it is answered 413
//     before the body is read, as the edge does; a chunked body over it stops with body_limit);
//   * the correlation id echoed is sane, and the one presented when that one is sane; the client
//     address is the peer or one of the X-Forwarded-For entries.
#include "config/defaults.hpp"
#include "transport/http/client_ip.hpp"
#include "transport/http/correlation.hpp"
#include "transport/http/header_scan.hpp"
#include "transport/http/types.hpp"
#include "transport/http/uri.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

namespace {

namespace bhttp = boost::beast::http;
namespace net = boost::asio;
using namespace caa;

void check(bool ok) {
  if (!ok) std::abort();
}

struct scan_result {
  http::scan_status status;
  std::size_t header_size;
};

/// Scans `buf` as reads of `chunk` bytes would arrive.
scan_result scan_in_chunks(std::string_view buf, std::size_t chunk) {
  http::header_scanner s;
  std::size_t have = 0;
  while (true) {
    have = std::min(buf.size(), have + chunk);
    auto st = s.scan(buf.substr(0, have));
    if (st != http::scan_status::incomplete || have == buf.size()) return {st, s.header_size()};
  }
}

/// The edge's guard against oversized chunk extensions (http_session.cpp).
void chunk_guard(std::uint64_t, boost::beast::string_view ext, boost::system::error_code& e) {
  if (ext.size() > 1024) e = bhttp::error::bad_chunk_extension;
}

bool is_client_of(std::string_view ip, std::string_view peer, std::string_view forwarded) {
  if (ip == peer) return true;
  while (!forwarded.empty()) {
    auto comma = forwarded.find(',');
    auto entry = forwarded.substr(0, comma);
    forwarded = comma == std::string_view::npos ? std::string_view{} : forwarded.substr(comma + 1);
    auto b = entry.find_first_not_of(" \t");
    auto e = entry.find_last_not_of(" \t");
    if (b != std::string_view::npos && entry.substr(b, e - b + 1) == ip) return true;
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  std::size_t chunk = 1 + data[0] % 97;
  std::size_t body_limit = (data[1] & 1) ? defaults::api_max_body_bytes : 256;
  std::string_view buf{reinterpret_cast<const char*>(data) + 2, size - 2};
  while (buf.size() >= 2 && buf.substr(0, 2) == "\r\n") buf.remove_prefix(2);  // RFC 9112 2.2

  // -- the pre-scan
  http::header_scanner whole;
  auto all_at_once = whole.scan(buf);
  auto chunked = scan_in_chunks(buf, chunk);
  if (chunked.status == http::scan_status::complete)
    check(all_at_once == http::scan_status::complete && chunked.header_size == whole.header_size());
  if (all_at_once != http::scan_status::complete) return 0;
  if (chunked.status != http::scan_status::complete) {
    // Refused early on a partial request line: no method within 32 bytes, or more than
    // 8 KiB + 16 after it (the whole line passes the scan; Beast or the framing check refuse it).
    auto line = buf.substr(0, buf.find("\r\n"));
    auto sp = line.find(' ');
    check(sp > 32 || line.size() - sp - 1 > 8192 + 16);
    return 0;
  }
  std::size_t header_size = whole.header_size();
  check(header_size >= 4 && header_size <= buf.size());
  check(buf.substr(header_size - 4, 4) == "\r\n\r\n");

  // -- Beast on exactly the header bytes
  bhttp::request_parser<bhttp::empty_body> head;
  head.header_limit(static_cast<std::uint32_t>(header_size + 1));
  head.body_limit(boost::none);
  boost::system::error_code ec;
  auto used = head.put(net::buffer(buf.data(), header_size), ec);
  if (ec || used != header_size || !head.is_header_done()) return 0;  // 400 "header parse"
  std::size_t fields = 0;
  for (const auto& f : head.get()) {
    ++fields;
    auto name = f.name_string();
    check(!name.empty() && name.find('_') == boost::beast::string_view::npos);
    for (unsigned char c : name) check(c > 0x20 && c < 0x7f && c != ':');
    for (unsigned char c : f.value()) check(c == '\t' || (c >= 0x20 && c != 0x7f));
  }
  check(fields <= 100);
  check(head.get().target().size() <= 8192);

  // -- the body
  std::optional<bhttp::request_parser<bhttp::string_body>> full;
  auto rest = buf.substr(header_size);
  if (auto cl = head.content_length(); cl && *cl > body_limit) return 0;  // 413, body unread
  if (!head.is_done()) {
    full.emplace(std::move(head));
    full->body_limit(body_limit);
    full->on_chunk_header(chunk_guard);
    full->eager(true);
    boost::system::error_code bec;
    while (!rest.empty() && !full->is_done()) {
      auto n = full->put(net::buffer(rest.data(), rest.size()), bec);
      rest.remove_prefix(n);
      if (bec || n == 0) break;
    }
    if (bec == bhttp::error::body_limit) return 0;  // 413
    check(full->get().body().size() <= body_limit);
    if (bec || !full->is_done()) return 0;  // 400 "body framing", or the body deadline answers
  }
  const bhttp::request_header<>& h = full ? static_cast<const bhttp::request_header<>&>(full->get())
                                          : static_cast<const bhttp::request_header<>&>(head.get());

  // -- the request as handlers see it (make_request)
  http::request req;
  auto target = std::string_view{h.target().data(), h.target().size()};
  auto q = target.find('?');
  auto raw_path = target.substr(0, q);
  auto decoded = http::percent_decode(raw_path, http::decode_mode::path_segment);
  req.path = decoded.value_or(std::string{raw_path});
  if (decoded)
    check(decoded->find('\0') == std::string::npos && decoded->size() <= raw_path.size());
  if (q != std::string_view::npos) req.query = std::string{target.substr(q + 1)};
  if (full) req.body = std::move(full->get().body());
  for (const auto& f : h) {
    std::string name{f.name_string()};
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    auto [it, fresh] = req.headers.try_emplace(std::move(name), std::string{f.value()});
    if (!fresh) (it->second += ", ") += std::string{f.value()};
  }
  for (std::string name : {"after", "limit", "ticket"}) {
    auto v = req.query_param(name);
    if (v) check(v->find('\0') == std::string::npos);
  }

  auto presented = h["X-Correlation-ID"];
  auto id = http::correlation_id_for({presented.data(), presented.size()});
  check(http::is_sane_correlation_id(id));
  if (http::is_sane_correlation_id({presented.data(), presented.size()})) check(id == presented);

  std::string forwarded;
  for (auto [it, end] = h.equal_range("X-Forwarded-For"); it != end; ++it)
    forwarded += (forwarded.empty() ? "" : ",") + std::string{it->value()};
  http::trusted_proxies proxies{{"10.0.0.0/8", "::1/128"}};
  for (std::string_view peer : {"10.1.2.3", "203.0.113.9"}) {
    auto ip = proxies.client_ip(peer, forwarded);
    check(is_client_of(ip, peer, forwarded));
    if (!proxies.contains(peer)) check(ip == peer);
  }
  return 0;
}
