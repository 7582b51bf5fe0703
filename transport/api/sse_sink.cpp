#include "transport/api/sse_sink.hpp"
#include "config/json_parse.hpp"

#include "transport/http/error_catalog.hpp"
#include "transport/http/sse.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <utility>

namespace caa::api {

namespace {

using writer = rapidjson::Writer<rapidjson::StringBuffer>;

/// Parses `data` as one JSON object into `doc`; false when it is not one.
bool parse_object(std::string_view data, rapidjson::Document& doc) {
  return json::parse_untrusted_object(data, doc);
}

/// Writes member `key` of `obj` (null when absent or `obj` is not an object).
void copy_member(writer& w, const rapidjson::Value& obj, const char* key) {
  w.Key(key);
  if (!obj.IsObject()) {
    w.Null();
    return;
  }
  auto it = obj.FindMember(key);
  if (it == obj.MemberEnd())
    w.Null();
  else
    it->value.Accept(w);
}

}  // namespace

errc errc_of_code(std::string_view code) {
  if (code == "CAPACITY_EXHAUSTED") return errc::capacity_exhausted;
  if (code == "SERVICE_UNAVAILABLE") return errc::unavailable;
  if (code == "SESSION_LOCKED") return errc::session_locked;
  if (code == "INTERNAL_ERROR") return errc::internal;
  return errc::agent_error;
}

// -- resumable_sink -----------------------------------------------------------------------------

void resumable_sink::lagged() {
  std::function<void()> go_on;
  {
    std::lock_guard<std::mutex> guard{hook_mtx_};
    go_on = on_lagged_;
  }
  if (go_on && open())
    go_on();
  else
    close();
}

void resumable_sink::on_lagged(std::function<void()> f) {
  std::lock_guard<std::mutex> guard{hook_mtx_};
  on_lagged_ = std::move(f);
}

// -- sse_event_sink -----------------------------------------------------------------------------

sse_event_sink::sse_event_sink(std::shared_ptr<http::stream_sink> stream, bool close_after_done)
    : stream_(std::move(stream)), close_after_done_(close_after_done) {}

sse_event_sink::~sse_event_sink() {
  if (stream_ && stream_->open()) stream_->close();
}

bool sse_event_sink::deliver(uint64_t seq, std::string_view name, std::string_view data) {
  std::lock_guard<std::mutex> guard{mtx_};
  if (closed_ || !stream_ || !stream_->open()) return false;
  if (seq <= last_seq_) return true;  // already written (replay and live overlap)
  if (!stream_->push(http::sse::encode(seq, name, data))) {
    closed_ = true;  // the sink closes the connection itself when it refuses
    return false;
  }
  last_seq_ = seq;
  if (name == "done") {
    done_ = true;
    if (close_after_done_) {
      closed_ = true;
      stream_->close();
    }
  }
  return true;
}

void sse_event_sink::cork() {
  if (stream_) stream_->cork();
}

void sse_event_sink::uncork() {
  if (stream_) stream_->uncork();
}

bool sse_event_sink::open() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return !closed_ && stream_ && stream_->open();
}

void sse_event_sink::close() {
  std::lock_guard<std::mutex> guard{mtx_};
  closed_ = true;
  if (stream_) stream_->close();
}

bool sse_event_sink::writable() const {
  return open() && stream_->writable();
}

void sse_event_sink::when_writable(std::function<void()> f) {
  if (stream_)
    stream_->when_writable(std::move(f));
  else
    f();
}

uint64_t sse_event_sink::last_seq() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return last_seq_;
}

bool sse_event_sink::saw_done() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return done_;
}

// -- collecting_sink ----------------------------------------------------------------------------

collecting_sink::collecting_sink(std::shared_ptr<http::responder> res, std::string session_id,
                                 std::size_t max_bytes)
    : res_(std::move(res)), session_id_(std::move(session_id)), max_bytes_(max_bytes) {}

collecting_sink::~collecting_sink() {
  std::lock_guard<std::mutex> guard{mtx_};
  finish_locked(std::nullopt, true);
}

bool collecting_sink::deliver(uint64_t seq, std::string_view name, std::string_view data) {
  std::lock_guard<std::mutex> guard{mtx_};
  if (answered_) return false;
  if (seq <= last_seq_) return true;
  last_seq_ = seq;
  if (name == "init" && session_id_.empty()) {
    rapidjson::Document doc;
    if (parse_object(data, doc) && doc.HasMember("session_id") && doc["session_id"].IsString())
      session_id_ = doc["session_id"].GetString();
  } else if (name == "message") {
    take_message(data);
  } else if (name == "result") {
    result_ = std::string{data};
  } else if (name == "error") {
    take_error(data);
  } else if (name == "done") {
    rapidjson::Document doc;
    std::string reason = "completed";
    if (parse_object(data, doc) && doc.HasMember("reason") && doc["reason"].IsString())
      reason = doc["reason"].GetString();
    finish_locked(std::move(reason), false);
  }
  return true;
}

bool collecting_sink::open() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return !answered_;
}

void collecting_sink::close() {
  std::lock_guard<std::mutex> guard{mtx_};
  finish_locked(std::nullopt, true);
}

std::string collecting_sink::document() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return document_locked();
}

void collecting_sink::take_message(std::string_view data) {
  rapidjson::Document doc;
  if (!parse_object(data, doc)) return;
  auto type = doc.FindMember("type");
  if (type == doc.MemberEnd() || !type->value.IsString() ||
      std::string_view{type->value.GetString()} != "assistant")
    return;
  auto parent = doc.FindMember("parent_tool_use_id");
  if (parent != doc.MemberEnd() && !parent->value.IsNull()) return;  // a subagent's message
  auto content = doc.FindMember("content");
  if (content == doc.MemberEnd() || !content->value.IsArray()) return;
  for (auto& block : content->value.GetArray()) {
    if (truncated_) return;
    rapidjson::StringBuffer buf;
    writer w{buf};
    block.Accept(w);
    if (block_bytes_ + buf.GetSize() > max_bytes_) {
      truncated_ = true;
      return;
    }
    block_bytes_ += buf.GetSize();
    blocks_.emplace_back(buf.GetString(), buf.GetSize());
  }
}

void collecting_sink::take_error(std::string_view data) {
  rapidjson::Document doc;
  if (parse_object(data, doc) && doc.HasMember("code") && doc["code"].IsString())
    error_code_ = doc["code"].GetString();
  else
    error_code_ = "AGENT_ERROR";
}

void collecting_sink::finish_locked(std::optional<std::string> done_reason, bool session_gone) {
  if (answered_) return;
  answered_ = true;
  done_reason_ = std::move(done_reason);
  auto res = std::move(res_);
  if (!res) return;
  bool interrupted = done_reason_ && *done_reason_ == "interrupted";
  if (result_ || interrupted) {
    http::response out;
    out.body = document_locked();
    res->send(std::move(out));
    return;
  }
  if (session_gone && !error_code_) {
    res->fail(make_error(errc::unavailable, "the session ended before the turn was done"));
    return;
  }
  auto code = error_code_ ? errc_of_code(*error_code_) : errc::agent_error;
  res->fail(make_error(code, "the turn failed before a result"));
}

std::string collecting_sink::document_locked() const {
  rapidjson::Document result;
  if (!result_ || !parse_object(*result_, result)) result.SetObject();
  rapidjson::StringBuffer buf;
  writer w{buf};
  w.StartObject();
  w.Key("session_id");
  w.String(session_id_.data(), static_cast<rapidjson::SizeType>(session_id_.size()));
  copy_member(w, result, "result");
  copy_member(w, result, "structured_output");
  w.Key("content");
  w.StartArray();
  for (auto& b : blocks_) w.RawValue(b.data(), b.size(), rapidjson::kObjectType);
  w.EndArray();
  copy_member(w, result, "usage");
  copy_member(w, result, "total_cost_usd");
  copy_member(w, result, "num_turns");
  copy_member(w, result, "duration_ms");
  w.Key("is_error");
  auto is_error = result.FindMember("is_error");
  bool has_flag = is_error != result.MemberEnd() && is_error->value.IsBool();
  w.Bool(result_ ? has_flag && is_error->value.GetBool() : true);  // no result: not a success
  copy_member(w, result, "subtype");
  copy_member(w, result, "stop_reason");
  w.Key("done_reason");
  if (done_reason_)
    w.String(done_reason_->data(), static_cast<rapidjson::SizeType>(done_reason_->size()));
  else
    w.Null();
  w.Key("truncated");
  w.Bool(truncated_);
  w.EndObject();
  return {buf.GetString(), buf.GetSize()};
}

}  // namespace caa::api
