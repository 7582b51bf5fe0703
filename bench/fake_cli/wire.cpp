#include "bench/fake_cli/wire.hpp"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <random>

#include <unistd.h>

namespace bench::fake {

namespace {

/// Appends `s` as a JSON string literal (quotes included).
void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", static_cast<unsigned>(c));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

std::string quoted(std::string_view s) {
  std::string out;
  append_json_string(out, s);
  return out;
}

/// The `,"session_id":...,"uuid":...}` tail every stdout message carries.
std::string ids_tail(std::string_view session_id) {
  return R"(,"session_id":)" + quoted(session_id) + R"(,"uuid":")" + make_uuid() + "\"}";
}

}  // namespace

int64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

std::string make_uuid() {
  static std::mt19937_64 rng{std::random_device{}()};
  uint64_t hi = rng();
  uint64_t lo = rng();
  hi = (hi & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;  // version 4
  lo = (lo & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;  // variant 10
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(hi >> 32),
                static_cast<unsigned>((hi >> 16) & 0xffff), static_cast<unsigned>(hi & 0xffff),
                static_cast<unsigned>(lo >> 48),
                static_cast<unsigned long long>(lo & 0xffffffffffffULL));
  return buf;
}

void write_line(std::string line) {
  line += '\n';
  const char* p = line.data();
  size_t left = line.size();
  while (left > 0) {
    auto n = ::write(STDOUT_FILENO, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      std::_Exit(0);  // the service is gone: nothing left to do
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
}

std::string control_success(std::string_view request_id, std::string_view payload_json) {
  std::string out = R"({"type":"control_response","response":{"subtype":"success","request_id":)";
  out += quoted(request_id);
  if (!payload_json.empty()) {
    out += R"(,"response":)";
    out += payload_json;
  }
  out += "}}";
  return out;
}

std::string control_error(std::string_view request_id, std::string_view message) {
  return R"({"type":"control_response","response":{"subtype":"error","request_id":)" +
         quoted(request_id) + R"(,"error":)" + quoted(message) + "}}";
}

std::string initialize_payload() {
  return R"({"commands":[],"agents":[],"output_style":"default",)"
         R"("available_output_styles":["default"],)"
         R"("models":[{"value":"default","resolvedModel":"fake-model","displayName":"Fake",)"
         R"("description":"bench fake CLI"}],)"
         R"("account":{"tokenSource":"none","apiKeySource":"none","apiProvider":"firstParty"},)"
         R"("pid":)" +
         std::to_string(::getpid()) + "}";
}

std::string system_init(std::string_view session_id) {
  char cwd[4096];
  const char* dir = ::getcwd(cwd, sizeof(cwd)) ? cwd : "/";
  return R"({"type":"system","subtype":"init","cwd":)" + quoted(dir) +
         R"(,"tools":[],"mcp_servers":[],"model":"fake-model","permissionMode":"default",)"
         R"("slash_commands":[],"agents":[],"skills":[],"plugins":[],"apiKeySource":"none",)"
         R"("claude_code_version":"2.1.197-fake","output_style":"default")" +
         ids_tail(session_id);
}

std::string assistant_text(std::string_view session_id, std::string_view message_id,
                           std::string_view text) {
  std::string out = R"({"type":"assistant","message":{"id":)";
  out += quoted(message_id);
  out += R"(,"type":"message","role":"assistant","model":"fake-model",)"
         R"("content":[{"type":"text","text":)";
  append_json_string(out, text);
  out += R"(}],"stop_reason":null,"usage":{"input_tokens":0,"output_tokens":1}},)"
         R"("parent_tool_use_id":null)";
  out += ids_tail(session_id);
  return out;
}

std::string text_delta(std::string_view session_id, std::string_view text) {
  std::string out = R"({"type":"stream_event","event":{"type":"content_block_delta","index":0,)"
                    R"("delta":{"type":"text_delta","text":)";
  append_json_string(out, text);
  out += R"(}},"parent_tool_use_id":null)";
  out += ids_tail(session_id);
  return out;
}

std::string interrupted_marker(std::string_view session_id) {
  return R"({"type":"user","message":{"role":"user","content":[{"type":"text",)"
         R"("text":"[Request interrupted by user]"}]},"parent_tool_use_id":null)" +
         ids_tail(session_id);
}

std::string result_line(std::string_view session_id, const turn_outcome& o) {
  std::string out = R"({"type":"result","subtype":)";
  out += o.interrupted ? R"("error_during_execution")" : R"("success")";
  out += R"(,"is_error":)";
  out += o.interrupted ? "true" : "false";
  out += R"(,"duration_ms":)" + std::to_string(o.duration_ms);
  out += R"(,"duration_api_ms":0,"num_turns":)" + std::to_string(o.num_turns);
  if (o.interrupted) {
    out += R"(,"terminal_reason":"aborted_streaming","errors":["interrupted"])";
  } else {
    out += R"(,"result":"done","stop_reason":"end_turn","terminal_reason":"completed")";
  }
  out += R"(,"total_cost_usd":0,"usage":{"input_tokens":0,"output_tokens":)" +
         std::to_string(o.events) + R"(},"modelUsage":{},"permission_denials":[])";
  out += ids_tail(session_id);
  return out;
}

}  // namespace bench::fake
