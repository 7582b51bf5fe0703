// load_client: drives the service, the floor or a baseline and writes one JSON result.
//
//   load_client --mode sse|ws|read --target service|floor|node|proxy --port N [options]
//
// sse/ws: `--streams` concurrent streams, each `--turns` turns (the first opens a new session,
// the next are warm turns of it), the fake CLI configured through the prompt (`--events`,
// `--bytes`, `--rate`). Reports the added latency of every event (arrival minus the fake CLI's
// stamped send time), events/s, time to first event of new and warm turns, errors by status.
// read: `--streams` keep-alive connections reading `GET /api/v1/sessions/{--session}` (floor:
// `GET /ping`) for `--duration` seconds. With `--pid` it samples that process's CPU and RSS
// from /proc (a comma-separated list: summed). attach: `--streams` idle SSE streams on `GET
// /api/v1/sessions/{id}/events` of the
// `--session` list (comma-separated), held for `--duration` seconds after the ramp: the
// service's RSS per open stream. Progress goes to stderr once a second. `--no-stamps` (a real CLI
// behind a model that stamps nothing): every SSE data line or frame counts as an event, no added
// latency; time to first event and errors as always. `--ports` (sse, service): the nodes of a
// cluster; each stream opens its session on one node and reads its warm turns from that owner or
// from another node (`--forward turn|attach`, cluster_stream.cpp), reported apart.
// `--durability sync|async` (service) adds `"durability"` to every turn; `--partial` asks for
// token deltas (`include_partial_messages`; the floor: `POST /turn?partial=1`), each stamped like
// any other event. Options: options.cpp.

#include "bench/load_client/load.hpp"

#include <boost/asio/experimental/as_tuple.hpp>

#include <chrono>
#include <cstdio>

namespace asio = boost::asio;
using namespace bench::load;

namespace {

constexpr asio::experimental::as_tuple_t<asio::use_awaitable_t<>> use_tuple{};

/// Prints progress and samples the service's RSS once a second until every stream ended (`timer`
/// is cancelled then: the last line and the exit follow at once).
asio::awaitable<void> progress(const options& o, recorder& rec, asio::steady_timer& timer) {
  int64_t last_events = 0;
  for (int tick = 1;; ++tick) {
    timer.expires_after(std::chrono::seconds{1});
    co_await timer.async_wait(use_tuple);
    auto p = sample_proc(o.pids);
    rec.rss_peak_mb = std::max(rec.rss_peak_mb, p.rss_mb);
    int64_t errors = 0;
    for (auto& [k, n] : rec.errors) errors += n;
    std::fprintf(stderr,
                 "[%s] %3ds active=%d turns=%lld events=%lld (+%lld/s) requests=%lld errors=%lld"
                 " rss=%.0fMB\n",
                 o.label.c_str(), tick, rec.active, static_cast<long long>(rec.turns_ok),
                 static_cast<long long>(rec.events),
                 static_cast<long long>(rec.events - last_events),
                 static_cast<long long>(rec.requests_ok), static_cast<long long>(errors), p.rss_mb);
    last_events = rec.events;
    if (rec.active == 0 && rec.finished_ns != 0) co_return;
  }
}

/// Starts the streams (spread over `--ramp-ms`) and records when the last one ended (and stops
/// the wait of `progress`).
asio::awaitable<void> run_all(const options& o, recorder& rec, asio::steady_timer& ticker) {
  auto exec = co_await asio::this_coro::executor;
  int64_t deadline = now_ns() + static_cast<int64_t>(o.duration_s * 1e9);
  asio::steady_timer timer{exec};
  rec.remaining = o.streams;
  auto done = [&rec, &ticker](std::exception_ptr) {
    if (--rec.remaining == 0) {
      rec.finished_ns = now_ns();
      ticker.cancel();
    }
  };
  for (int i = 0; i < o.streams; ++i) {
    if (o.ramp_ms > 0 && i > 0) {
      timer.expires_after(std::chrono::microseconds{int64_t{o.ramp_ms} * 1000 / o.streams});
      co_await timer.async_wait(use_tuple);
    }
    if (o.mode == "read")
      asio::co_spawn(exec, read_loop(o, rec, deadline), done);
    else if (o.mode == "attach")
      asio::co_spawn(exec, attach_stream(o, rec, i, deadline), done);
    else if (o.mode == "ws")
      asio::co_spawn(exec, ws_stream(o, rec, i), done);
    else if (!o.ports.empty())
      asio::co_spawn(exec, cluster_stream(o, rec, i), done);
    else
      asio::co_spawn(exec, sse_stream(o, rec, i), done);
  }
}

}  // namespace

int main(int argc, char** argv) {
  auto o = parse_options(argc, argv);
  asio::io_context io{1};
  recorder rec;
  rec.stamps = o.stamps;
  auto before = sample_proc(o.pids);
  rec.rss_peak_mb = before.rss_mb;
  rec.started_ns = now_ns();
  asio::steady_timer ticker{io};
  asio::co_spawn(io, run_all(o, rec, ticker), asio::detached);
  asio::co_spawn(io, progress(o, rec, ticker), asio::detached);
  io.run();
  auto after = sample_proc(o.pids);
  rec.rss_peak_mb = std::max(rec.rss_peak_mb, after.rss_mb);
  write_report(o, rec, before, after);
  return rec.turns_ok + rec.requests_ok > 0 ? 0 : 1;
}
