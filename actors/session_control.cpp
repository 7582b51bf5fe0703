// Interactive control of a session: the CLI's own requests (can_use_tool, hook_callback), the
// client's answers, live mode/model changes and file rewind. (Being written.)

#include "actors/session_impl.hpp"

#include "config/errc.hpp"

#include <caf/all.hpp>

namespace caa::detail {

caf::result<bool> on_answer(session_self, pending_answer) {
  return make_error(errc::session_idle, "no pending request");
}

caf::result<std::string> on_control(session_self, live_control) {
  return make_error(errc::agent_error, "not wired yet");
}

caf::result<std::string> on_rewind(session_self, std::string, bool) {
  return make_error(errc::checkpoint_not_found, "not wired yet");
}

void on_hooked(session_self, uint64_t, std::string, std::string) {}

void on_cli_request(session_self, const claude::cli_message&) {}

void on_cli_control_reply(session_self, const claude::cli_message&) {}

}  // namespace caa::detail
