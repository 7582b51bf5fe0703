#include "actors/system_config.hpp"

#include "actors/types.hpp"
#include "config/errc.hpp"

#include <caf/io/middleman.hpp>
#include <caf/timespan.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <thread>

namespace caa {

namespace {

/// One scheduler worker per core, at least two. CAF's default is max(4, cores): on a 2-core
/// machine the extra workers only poll for work beside the detached database workers.
std::size_t scheduler_threads() {
  return std::max<std::size_t>(2, std::thread::hardware_concurrency());
}

}  // namespace

system_config::system_config(const settings& cfg) {
  add_message_types<caf::id_block::caa_storage>();
  add_message_types<caf::id_block::caa_actors>();
  // (CAF 0.17.6's add_error_category<T> template does not compile: give the renderer.)
  add_error_category(errc_category, [](uint8_t code, caf::atom_value, const caf::message& ctx) {
    return render_errc(code, ctx);
  });
  load<caf::io::middleman>();
  set("middleman.app-identifier", "claude-agent-api");
  // Remote connections only when this node joins a cluster.
  set("middleman.enable-automatic-connections", false);
  set("scheduler.max-threads", scheduler_threads());
  // An idle work-stealing worker spins 100 polls (aggressive), then sleeps between polls
  // (moderate), then waits on its condition variable, which an enqueue from outside the
  // scheduler (an agent's output, a request) signals at once. A job enqueued to a worker in
  // a moderate sleep waits the sleep out (CAF's 50 us, longer with the kernel's timer slack):
  // the stage is skipped, so an idle worker goes from spinning straight to waiting.
  set("work-stealing.moderate-poll-attempts", std::size_t{0});
  (void)cfg;
}

}  // namespace caa
