#include "transport/http/sse.hpp"

namespace caa::http {

namespace sse {

namespace {

/// Whether `c` may appear in an event name.
bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == '-';
}

/// Applies one "field: value" line to the event under construction.
void apply_line(std::string_view line, event& ev, bool& has_data) {
  if (line.empty() || line.front() == ':') return;
  auto colon = line.find(':');
  auto field = line.substr(0, colon);
  auto value = colon == std::string_view::npos ? std::string_view{} : line.substr(colon + 1);
  if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  if (field == "id") {
    ev.id = value;
  } else if (field == "event") {
    ev.name = value;
  } else if (field == "data") {
    if (has_data) ev.data += '\n';
    ev.data += value;
    has_data = true;
  }
}

}  // namespace

std::string encode(uint64_t id, std::string_view event_name, std::string_view json_data) {
  std::string out;
  out.reserve(json_data.size() + event_name.size() + 40);
  out += "id: ";
  out += std::to_string(id);
  out += "\nevent: ";
  for (char c : event_name) out += is_name_char(c) ? c : '_';
  out += "\ndata: ";
  // A line break would end the data line: each becomes a space (JSON allows one only between
  // tokens, where a space means the same). The runs between them are copied whole.
  std::size_t from = 0;
  for (std::size_t at = 0; at < json_data.size(); ++at) {
    char c = json_data[at];
    if (c != '\n' && c != '\r') continue;
    out.append(json_data.substr(from, at - from));
    out.push_back(' ');
    from = at + 1;
  }
  out.append(json_data.substr(from));
  out += "\n\n";
  return out;
}

std::string keep_alive() {
  return ": keep-alive\n\n";
}

std::vector<event> parse(std::string_view stream) {
  std::vector<event> out;
  event ev;
  bool has_data = false;
  while (!stream.empty()) {
    auto eol = stream.find_first_of("\r\n");
    if (eol == std::string_view::npos)
      break;  // an incomplete last line is not part of a complete event
    auto line = stream.substr(0, eol);
    size_t skip =
        (stream[eol] == '\r' && eol + 1 < stream.size() && stream[eol + 1] == '\n') ? 2 : 1;
    stream.remove_prefix(eol + skip);
    if (!line.empty()) {
      apply_line(line, ev, has_data);
      continue;
    }
    if (has_data) {
      if (ev.name.empty()) ev.name = "message";
      out.push_back(std::move(ev));
    }
    ev = event{};
    has_data = false;
  }
  return out;
}

}  // namespace sse

bounded_sink::bounded_sink(std::weak_ptr<stream_transport> transport, std::size_t budget)
    : transport_(std::move(transport)), budget_(budget) {}

bounded_sink::~bounded_sink() = default;

bool bounded_sink::push(std::string chunk) {
  std::shared_ptr<stream_transport> t;
  bool over_budget = false;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (!open_) return false;
    t = transport_.lock();
    over_budget = queued_ >= budget_;
    if (!t || over_budget) {
      open_ = false;
    } else {
      queued_ += chunk.size();
      if (corked_) {
        held_.append(chunk);
        if (held_.size() < max_held_bytes) return true;
        chunk = std::exchange(held_, {});  // many: out now, keep holding what follows
      }
    }
  }
  if (!t) {
    ended();
    return false;
  }
  if (over_budget) {
    t->abort();
    return false;
  }
  hand_over(t, std::move(chunk));
  return true;
}

void bounded_sink::cork() {
  std::lock_guard<std::mutex> guard{mtx_};
  corked_ = true;
}

void bounded_sink::uncork() {
  std::shared_ptr<stream_transport> t;
  std::string held;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    corked_ = false;
    held = std::exchange(held_, {});
    if (held.empty() || !open_) return;
    t = transport_.lock();
  }
  hand_over(t, std::move(held));
}

void bounded_sink::hand_over(const std::shared_ptr<stream_transport>& t, std::string chunk) {
  auto size = chunk.size();
  if (t && size > 0 && t->transmit(std::move(chunk))) written(size);  // it went out at once
}

void bounded_sink::close() {
  std::shared_ptr<stream_transport> t;
  std::string held;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (!open_) return;
    open_ = false;
    corked_ = false;
    held = std::exchange(held_, {});
    t = transport_.lock();
  }
  if (t) {
    hand_over(t, std::move(held));  // what was held goes out before the end
    t->finish();
  } else {
    ended();
  }
}

bool bounded_sink::open() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return open_;
}

void bounded_sink::on_closed(std::function<void()> f) {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (!ended_) {
      on_closed_ = std::move(f);
      return;
    }
  }
  if (f) f();
}

bool bounded_sink::writable() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return open_ && queued_ < budget_ / 2;
}

void bounded_sink::when_writable(std::function<void()> f) {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (open_ && queued_ >= budget_ / 2) {
      waiting_.push_back(std::move(f));
      return;
    }
  }
  f();
}

void bounded_sink::written(std::size_t n) {
  std::vector<std::function<void()>> ready;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    queued_ = n > queued_ ? 0 : queued_ - n;
    if (queued_ < budget_ / 2) ready.swap(waiting_);
  }
  for (auto& f : ready) f();
}

void bounded_sink::ended() {
  std::function<void()> f;
  std::vector<std::function<void()>> ready;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (ended_) return;
    ended_ = true;
    open_ = false;
    f = std::move(on_closed_);
    on_closed_ = nullptr;
    ready.swap(waiting_);
  }
  if (f) f();
  for (auto& w : ready) w();
}

}  // namespace caa::http
