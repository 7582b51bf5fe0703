#include "actors/system_config.hpp"

#include "actors/types.hpp"
#include "config/errc.hpp"

#include <caf/io/middleman.hpp>

namespace caa {

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
  (void) cfg;
}

}  // namespace caa
