// The `answer` and `control` frames: the decoders and session steps of the HTTP answer and
// control routes (session_ops.hpp), over a WebSocket.

#include "transport/api/session_ops.hpp"
#include "transport/api/ws_connection.hpp"
#include "transport/json/json.hpp"

namespace caa::api {

void ws_connection::on_answer(const ws_frame& f) {
  auto decoded = decode_answer(*f.doc, {"type", "session_id"});
  if (!decoded) {
    send_error(decoded.error(), ws_frame_type::answer, f.session_id.value_or(""));
    return;
  }
  auto id = target_of(f);
  if (!id) return;
  auto self = shared_from_this();
  detail::answer_session(
      api_, tenant_id_, *id, std::move(*decoded),
      [self, id] { self->send_ack(ws_frame_type::answer, *id); },
      [self, id](const caf::error& e) { self->send_error(e, ws_frame_type::answer, *id); });
}

void ws_connection::on_control(const ws_frame& f) {
  const auto& doc = *f.doc;
  json::field_errors errors;
  errors.reject_unknown(doc, {}, {"type", "session_id", "permission_mode", "model"});
  auto mode = doc.FindMember("permission_mode");
  auto model = doc.FindMember("model");
  bool has_mode = mode != doc.MemberEnd();
  bool has_model = model != doc.MemberEnd();
  if (has_mode == has_model)
    errors.fail("permission_mode", "exactly one of permission_mode and model is required");
  if (!errors.ok()) {
    send_error(caa::validation_error(errors.take()), ws_frame_type::control,
               f.session_id.value_or(""));
    return;
  }
  auto decoded = has_mode
                     ? decode_control("permission_mode", &mode->value, policy_, "permission_mode")
                     : decode_control("model", &model->value, policy_, "model");
  if (!decoded) {
    send_error(decoded.error(), ws_frame_type::control, f.session_id.value_or(""));
    return;
  }
  auto id = target_of(f);
  if (!id) return;
  auto self = shared_from_this();
  detail::control_session(
      api_, tenant_id_, *id, std::move(*decoded),
      [self, id](const std::string&) { self->send_ack(ws_frame_type::control, *id); },
      [self, id](const caf::error& e) { self->send_error(e, ws_frame_type::control, *id); });
}

}  // namespace caa::api
