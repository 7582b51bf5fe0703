#include "actors/session_event_log.hpp"

#include <algorithm>
#include <iterator>
#include <utility>

namespace caa::detail {

namespace {

std::size_t bytes_of(const kept_event& e) {
  return e.name.size() + e.data.size();
}

}  // namespace

session_event_log::session_event_log(std::size_t max_events, std::size_t max_bytes)
    : max_events_(max_events), max_bytes_(max_bytes) {}

void session_event_log::start_after(uint64_t seq) {
  last_seq_ = committed_seq_ = seq;
}

uint64_t session_event_log::append(std::string name, std::string data) {
  kept_event k{++last_seq_, std::move(name), std::move(data)};
  window_bytes_ += bytes_of(k);
  unwritten_.push_back(k);
  window_.push_back(std::move(k));
  trim();
  return last_seq_;
}

std::span<const kept_event> session_event_log::next_batch() {
  if (in_flight_ || unwritten_.empty()) return {};
  writing_ = std::move(unwritten_);
  unwritten_.clear();
  in_flight_ = true;
  return writing_;
}

void session_event_log::commit() {
  if (!writing_.empty()) committed_seq_ = std::max(committed_seq_, writing_.back().seq);
  writing_.clear();
  in_flight_ = false;
  trim();
}

void session_event_log::put_back() {
  writing_.insert(writing_.end(), std::make_move_iterator(unwritten_.begin()),
                  std::make_move_iterator(unwritten_.end()));
  unwritten_ = std::move(writing_);
  writing_.clear();
  in_flight_ = false;
}

uint64_t session_event_log::window_start() const noexcept {
  return window_.empty() ? committed_seq_ + 1 : window_.front().seq;
}

const kept_event* session_event_log::committed_after(uint64_t after) const noexcept {
  if (after >= committed_seq_ || behind_window(after)) return nullptr;
  // The window is ordered by seq without gaps: the event after `after` is at a known index.
  auto idx = after + 1 - window_start();
  if (idx >= window_.size()) return nullptr;
  const auto& e = window_[idx];
  return e.seq <= committed_seq_ ? &e : nullptr;
}

void session_event_log::trim() {
  while (window_.size() > 1 && window_.front().seq <= committed_seq_ &&
         (window_.size() > max_events_ || window_bytes_ > max_bytes_)) {
    window_bytes_ -= bytes_of(window_.front());
    window_.pop_front();
  }
}

subscriber& session_event_log::subscribe(event_sink_ptr sink, uint64_t after) {
  subscriber sub;
  sub.sink = std::move(sink);
  sub.after = after;
  sub.id = ++next_subscriber_id_;
  subscribers_.push_back(std::move(sub));
  return subscribers_.back();
}

subscriber* session_event_log::find_subscriber(uint64_t id) {
  auto it = std::find_if(subscribers_.begin(), subscribers_.end(),
                         [id](const subscriber& s) { return s.id == id; });
  return it == subscribers_.end() ? nullptr : &*it;
}

void session_event_log::remove_subscriber(uint64_t id) {
  std::erase_if(subscribers_, [id](const subscriber& s) { return s.id == id; });
}

void session_event_log::remove_subscribers_if(const std::function<bool(subscriber&)>& drop) {
  for (auto it = subscribers_.begin(); it != subscribers_.end();) {
    if (drop(*it))
      it = subscribers_.erase(it);
    else
      ++it;
  }
}

void session_event_log::prune_subscribers() {
  std::erase_if(subscribers_, [](const subscriber& s) { return !s.sink->open(); });
}

void session_event_log::close_subscribers() {
  for (auto& sub : subscribers_) sub.sink->close();
  subscribers_.clear();
}

}  // namespace caa::detail
