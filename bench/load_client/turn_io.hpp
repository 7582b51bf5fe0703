#pragma once

// The request and the streamed response of one turn, shared by the single-node streams
// (sse_stream.cpp) and the cluster streams (cluster_stream.cpp).

#include "bench/load_client/load.hpp"

#include <boost/asio/experimental/as_tuple.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <string>

namespace bench::load {

/// Completion token: results as a tuple, errors as values.
inline constexpr boost::asio::experimental::as_tuple_t<boost::asio::use_awaitable_t<>> use_tuple{};

/// The request of one turn in the shape of the target (`session_id` empty: a new session).
boost::beast::http::request<boost::beast::http::string_body> turn_request(
    const options& o, const std::string& session_id);

/// Reads the body of a refused response so that the connection can be reused; keeps its first
/// 4 KiB in `body`.
boost::asio::awaitable<void> drain(
    boost::beast::tcp_stream& stream, boost::beast::flat_buffer& buf,
    boost::beast::http::response_parser<boost::beast::http::buffer_body>& p, std::string& body);

/// How a turn's response ended.
enum class turn_end { failed, keep_alive, closed };

/// Reads one turn's streamed response into `reader` (failures are recorded through it).
boost::asio::awaitable<turn_end> read_turn(boost::beast::tcp_stream& stream,
                                           boost::beast::flat_buffer& buf, turn_reader& reader,
                                           recorder& rec, const options& o);

/// Records the status of a refused response (and its envelope code and `Retry-After`) and drains
/// it.
boost::asio::awaitable<void> refused(
    boost::beast::tcp_stream& stream, boost::beast::flat_buffer& buf,
    boost::beast::http::response_parser<boost::beast::http::buffer_body>& p, turn_reader& reader,
    recorder& rec);

}  // namespace bench::load
