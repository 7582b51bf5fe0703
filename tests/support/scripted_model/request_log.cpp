#include "request_log.hpp"

#include "json.hpp"

#include <stdexcept>

namespace scripted_model {

request_log::request_log(const std::string& file_path) {
  if (file_path.empty()) return;
  file_.open(file_path, std::ios::app);
  if (!file_) throw std::runtime_error("cannot open log file " + file_path);
}

void request_log::record(recorded_request r) {
  auto line = encode(r);
  std::lock_guard lock{mutex_};
  if (file_.is_open()) {
    file_ << line << '\n';
    file_.flush();
  }
  entries_.push_back(std::move(line));
}

std::string request_log::to_json() const {
  std::lock_guard lock{mutex_};
  std::size_t size = 2;
  for (const auto& e : entries_) size += e.size() + 1;
  std::string out;
  out.reserve(size);
  out += '[';
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    if (i > 0) out += ',';
    out += entries_[i];
  }
  out += ']';
  return out;
}

std::size_t request_log::clear() {
  std::lock_guard lock{mutex_};
  const auto n = entries_.size();
  entries_.clear();
  return n;
}

std::size_t request_log::size() const {
  std::lock_guard lock{mutex_};
  return entries_.size();
}

std::string request_log::encode(const recorded_request& r) {
  rapidjson::StringBuffer buf;
  json::writer w(buf);
  w.StartObject();
  w.Key("method");
  json::write_string(w, r.method);
  w.Key("path");
  json::write_string(w, r.path);
  w.Key("query");
  json::write_string(w, r.query);
  w.Key("headers");
  w.StartObject();
  for (const auto& [name, value] : r.headers) {
    json::write_string(w, name);
    json::write_string(w, value);
  }
  w.EndObject();
  w.Key("body");
  if (r.body.empty())
    w.Null();
  else if (json::is_valid(r.body))
    w.RawValue(r.body.data(), r.body.size(), rapidjson::kObjectType);
  else
    json::write_string(w, r.body);
  w.EndObject();
  return {buf.GetString(), buf.GetSize()};
}

}  // namespace scripted_model
