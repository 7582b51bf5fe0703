// Live permission-mode and model changes of a session (API.md control route): stored with the
// session's options first, then applied to the running CLI with set_permission_mode / set_model.

#include "actors/session_control_util.hpp"

#include "storage/postgres/session_queries.hpp"
#include "transport/claude/control.hpp"

#include <caf/all.hpp>

namespace caa::detail {

caf::result<std::string> on_control(session_self self, live_control c) {
  auto& st = self->state;
  storage::options_update update;
  if (!c.options_json.empty())
    update.options_json = c.options_json;
  if (c.kind == "permission_mode")
    update.permission_mode = c.value;
  else
    update.model = c.value == "default" ? std::string{} : c.value;
  auto q = storage::make_update_options_query(st.who.tenant_id, st.who.id, update);
  if (!q)
    return q.error();
  auto rp = self->make_response_promise<std::string>();
  // Stored first, answered after: a turn the client starts once it has the answer reads the
  // new options (it only touches the options columns, so it may bypass the status queue).
  self->request(st.deps.pg, st.deps.db_timeout, std::move(*q))
    .then(
      [self, rp, c](storage::db_result&) mutable {
        auto& s = self->state;
        if (!s.proc) {
          rp.deliver(std::string{"stored"});
          return;
        }
        auto id = s.request_ids.next();
        auto line = c.kind == "permission_mode"
                      ? claude::set_permission_mode(id, c.value)
                      : claude::set_model(id, c.value == "default" ? std::string_view{} : c.value);
        auto gen = s.gen;
        send_control(self, id, std::move(line),
                     [self, rp, gen, options = c.options_json](bool ok, std::string) mutable {
                       auto& s2 = self->state;
                       // Applied live: the next turn of the stored options keeps this process.
                       if (ok && gen == s2.gen && !options.empty())
                         s2.proc_options_json = options;
                       // Refused live (e.g. bypass needs a new process): the next turn respawns.
                       rp.deliver(std::string{ok ? "applied" : "stored"});
                     });
      },
      [rp](caf::error& e) mutable { rp.deliver(std::move(e)); });
  return rp;
}

}  // namespace caa::detail
