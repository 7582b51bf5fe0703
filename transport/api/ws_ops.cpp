// The `answer` and `control` frames. Until the session actor takes answers and live changes,
// both are refused with an error frame naming the frame type.

#include "transport/api/ws_connection.hpp"
#include "transport/http/error_catalog.hpp"

namespace caa::api {

void ws_connection::on_answer(const ws_frame& f) {
  send_error(http::validation_error({{"type", "answer frames are not available yet"}}),
             ws_frame_type::answer, f.session_id.value_or(""));
}

void ws_connection::on_control(const ws_frame& f) {
  send_error(http::validation_error({{"type", "control frames are not available yet"}}),
             ws_frame_type::control, f.session_id.value_or(""));
}

}  // namespace caa::api
