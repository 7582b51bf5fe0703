#include "router.hpp"

#include "conversation.hpp"
#include "json.hpp"
#include "scenarios.hpp"

#include <algorithm>

namespace scripted_model {

namespace {

constexpr std::size_t max_estimated_tokens = 100000;

std::pair<std::string, std::string> split_target(const std::string& target) {
  const auto q = target.find('?');
  if (q == std::string::npos) return {target, {}};
  return {target.substr(0, q), target.substr(q + 1)};
}

response_plan not_found(const std::string& method, const std::string& path) {
  return json_response(404, encode_error(404, "No route for " + method + " " + path));
}

}  // namespace

response_plan json_response(unsigned status, std::string body) {
  response_plan plan;
  plan.status = status;
  plan.body = std::move(body);
  return plan;
}

std::size_t estimate_input_tokens(std::size_t body_bytes) {
  return std::clamp<std::size_t>(body_bytes / 4, 1, max_estimated_tokens);
}

router::router(request_log& log, std::chrono::milliseconds delay) : log_(log), delay_(delay) {}

response_plan router::handle(const incoming_request& req) {
  auto [path, query] = split_target(req.target);
  if (path == "/_log") return log_route(req.method);
  log_.record({req.method, path, query, req.headers, req.body});
  if (req.method == "POST" && path == "/v1/messages") return messages(req.body);
  if (req.method == "POST" && path == "/v1/messages/count_tokens") return count_tokens(req.body);
  return not_found(req.method, path);
}

response_plan router::messages(const std::string& body) {
  rapidjson::Document doc;
  if (!json::parse(body, doc) || !doc.IsObject())
    return json_response(400, encode_error(400, "Request body is not a JSON object."));
  const auto conv = analyse(doc);
  if (!conv) return json_response(400, encode_error(400, "messages: Field required"));
  auto r = play(*conv);
  response_plan plan;
  plan.delay = delay_;
  plan.request_id = ids_.next("req_");
  if (r.http_status != 200) {
    plan.status = r.http_status;
    plan.body = encode_error(r.http_status, r.error_message);
    return plan;
  }
  for (auto& b : r.blocks)
    if (b.type == content_block::kind::tool_use) b.tool_id = ids_.next("toolu_");
  const message_meta meta{ids_.next("msg_"), conv->model, estimate_input_tokens(body.size())};
  if (conv->stream) {
    plan.streamed = true;
    plan.content_type = "text/event-stream";
    plan.events = encode_stream(r, meta);
  } else {
    plan.body = encode_message(r, meta);
  }
  return plan;
}

response_plan router::count_tokens(const std::string& body) {
  return json_response(
      200, R"({"input_tokens":)" + std::to_string(estimate_input_tokens(body.size())) + "}");
}

response_plan router::log_route(const std::string& method) {
  if (method == "GET") return json_response(200, log_.to_json());
  if (method == "DELETE")
    return json_response(200, R"({"cleared":)" + std::to_string(log_.clear()) + "}");
  return json_response(405, encode_error(405, "Use GET or DELETE on /_log."));
}

}  // namespace scripted_model
