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

void session_event_log::start_after(uint64_t stored, uint64_t reserved) {
  // Above a mark: the hole ends one id above it, an id no event ever had (the `gap` event's).
  auto start = reserved > stored ? reserved + 1 : stored;
  last_seq_ = committed_seq_ = visible_seq_ = written_seq_ = start;
  reserved_ = reserved;
  hole_from_ = stored + 1;
  hole_to_ = start;
}

uint64_t session_event_log::append(std::string name, std::string data, bool early) {
  kept_event k{++last_seq_, std::move(name), std::move(data), early};
  if (early) last_early_seq_ = last_seq_;
  window_bytes_ += bytes_of(k);
  window_.push_back(std::move(k));
  advance_visible();
  trim();
  return last_seq_;
}

std::optional<uint64_t> session_event_log::reservation_due() {
  // Only for early events still to be stored (or expected): all stored, none needs a mark.
  if (reserving_ || last_early_seq_ <= committed_seq_ ||
      last_early_seq_ + reserve_chunk / 2 <= reserved_)
    return std::nullopt;
  reserving_ = true;
  return last_seq_ + reserve_chunk;
}

void session_event_log::reserved(uint64_t seq) {
  reserving_ = false;
  reserved_ = std::max(reserved_, seq);
  advance_visible();
}

std::optional<uint64_t> session_event_log::release_due() {
  if (reserving_ || in_flight_ || written_seq_ != last_seq_ || reserved_ <= committed_seq_ ||
      last_seq_ != committed_seq_ || last_early_seq_ > committed_seq_)
    return std::nullopt;
  reserving_ = true;
  // Lowered here already: an early event appended while the write is in flight must wait for
  // a new mark, not go out under the one being taken back.
  reserved_ = committed_seq_;
  return committed_seq_;
}

void session_event_log::released() noexcept {
  reserving_ = false;
}

void session_event_log::advance_visible() {
  visible_seq_ = std::max(visible_seq_, committed_seq_);
  while (visible_seq_ < last_seq_) {
    auto next = visible_seq_ + 1;
    // Uncommitted events never leave the window, which holds consecutive seqs.
    const auto& e = window_[next - window_.front().seq];
    if (!e.early || next > reserved_ || next > committed_seq_ + max_unstored_sends) break;
    visible_seq_ = next;
  }
}

event_batch session_event_log::next_batch() {
  if (in_flight_ || written_seq_ == last_seq_) return {};
  // With no batch in flight, every event handed to a write is stored: the batch begins right
  // after the stored ones.
  auto from = committed_seq_ + 1;
  written_seq_ = last_seq_;
  in_flight_ = true;
  auto first = window_.begin() + static_cast<std::ptrdiff_t>(from - window_start());
  return {first, window_.end()};
}

void session_event_log::commit() {
  if (in_flight_) committed_seq_ = std::max(committed_seq_, written_seq_);
  in_flight_ = false;
  advance_visible();
  trim();
}

void session_event_log::put_back() {
  if (in_flight_) written_seq_ = committed_seq_;  // the batch began right after it
  in_flight_ = false;
}

uint64_t session_event_log::window_start() const noexcept {
  return window_.empty() ? committed_seq_ + 1 : window_.front().seq;
}

const kept_event* session_event_log::visible_after(uint64_t after) const noexcept {
  if (after >= visible_seq_ || behind_window(after)) return nullptr;
  // The window is ordered by seq without gaps: the event after `after` is at a known index.
  auto idx = after + 1 - window_start();
  if (idx >= window_.size()) return nullptr;
  const auto& e = window_[idx];
  return e.seq <= visible_seq_ ? &e : nullptr;
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
