#include "config/metrics.hpp"

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <thread>

namespace caa::metrics {

// -- histogram ----------------------------------------------------------------------------------

void histogram::configure(std::span<const double> bounds) {
  if (bounds.size() > max_bounds) throw std::invalid_argument("histogram: too many bounds");
  for (std::size_t i = 0; i < bounds.size(); ++i)
    if (!std::isfinite(bounds[i]) || (i > 0 && bounds[i] <= bounds[i - 1]))
      throw std::invalid_argument("histogram: bounds must be finite and strictly ascending");
  std::copy(bounds.begin(), bounds.end(), bounds_.begin());
  size_ = bounds.size();
}

void histogram::observe(double x) noexcept {
  if (std::isnan(x)) return;
  auto end = bounds_.begin() + static_cast<std::ptrdiff_t>(size_);
  auto bucket =
      static_cast<std::size_t>(std::lower_bound(bounds_.begin(), end, x) - bounds_.begin());
  counts_[bucket].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(x, std::memory_order_relaxed);
}

histogram::snapshot histogram::read() const noexcept {
  snapshot out;
  out.bounds = std::span<const double>{bounds_.data(), size_};
  uint64_t total = 0;
  for (std::size_t i = 0; i <= size_; ++i) {
    total += counts_[i].load(std::memory_order_relaxed);
    out.cumulative[i] = total;
  }
  out.sum = sum_.load(std::memory_order_relaxed);
  return out;
}

// -- label_table --------------------------------------------------------------------------------

namespace detail {

namespace {

enum : uint8_t { slot_empty = 0, slot_writing = 1, slot_ready = 2 };

/// FNV-1a over the values, each followed by a separator byte no UTF-8 text contains.
uint64_t hash_of(std::span<const std::string_view> values) noexcept {
  uint64_t h = 14695981039346656037ull;
  auto mix = [&h](unsigned char c) {
    h ^= c;
    h *= 1099511628211ull;
  };
  for (auto v : values) {
    for (char c : v) mix(static_cast<unsigned char>(c));
    mix(0xff);
  }
  return h;
}

}  // namespace

struct label_table::slot {
  std::atomic<uint8_t> state{slot_empty};
  std::array<uint8_t, max_labels> lengths{};
  std::array<char, max_label_bytes> text{};
};

label_table::label_table(std::size_t labels, std::size_t capacity)
    : labels_(labels), capacity_(std::bit_ceil(std::max<std::size_t>(capacity, 1))) {
  if (labels == 0 || labels > max_labels) throw std::invalid_argument("label_table: labels");
  slots_ = std::make_unique<slot[]>(capacity_);
}

label_table::~label_table() = default;

std::size_t label_table::index(std::span<const std::string_view> values) noexcept {
  std::size_t total = 0;
  for (auto v : values) total += v.size() > 255 ? max_label_bytes + 1 : v.size();
  if (values.size() != labels_ || total > max_label_bytes) {
    overflow_used_.store(true, std::memory_order_relaxed);
    return capacity_;
  }
  auto matches = [&](const slot& s) {
    std::size_t at = 0;
    for (std::size_t i = 0; i < labels_; ++i) {
      if (s.lengths[i] != values[i].size() ||
          std::memcmp(s.text.data() + at, values[i].data(), values[i].size()) != 0)
        return false;
      at += values[i].size();
    }
    return true;
  };
  auto h = hash_of(values);
  for (std::size_t probe = 0; probe < capacity_; ++probe) {
    auto i = (h + probe) & (capacity_ - 1);
    auto& s = slots_[i];
    auto state = s.state.load(std::memory_order_acquire);
    if (state == slot_empty) {
      uint8_t expected = slot_empty;
      if (s.state.compare_exchange_strong(expected, slot_writing, std::memory_order_acquire)) {
        std::size_t at = 0;
        for (std::size_t k = 0; k < labels_; ++k) {
          s.lengths[k] = static_cast<uint8_t>(values[k].size());
          std::memcpy(s.text.data() + at, values[k].data(), values[k].size());
          at += values[k].size();
        }
        s.state.store(slot_ready, std::memory_order_release);
        return i;
      }
      state = expected;
    }
    while (state == slot_writing) {  // another thread writes this very slot: a few stores
      std::this_thread::yield();
      state = s.state.load(std::memory_order_acquire);
    }
    if (matches(s)) return i;
  }
  overflow_used_.store(true, std::memory_order_relaxed);
  return capacity_;
}

bool label_table::values_of(std::size_t i, std::span<std::string_view> out) const noexcept {
  if (i >= capacity_) {
    if (!overflow_used_.load(std::memory_order_relaxed)) return false;
    std::fill(out.begin(), out.end(), overflow_value);
    return true;
  }
  const auto& s = slots_[i];
  if (s.state.load(std::memory_order_acquire) != slot_ready) return false;
  std::size_t at = 0;
  for (std::size_t k = 0; k < labels_ && k < out.size(); ++k) {
    out[k] = std::string_view{s.text.data() + at, s.lengths[k]};
    at += s.lengths[k];
  }
  return true;
}

}  // namespace detail

// -- text format --------------------------------------------------------------------------------

namespace {

/// `x` with backslashes doubled, line feeds as `\n` and, with `quotes`, `"` as `\"`.
std::string escape(std::string_view x, bool quotes) {
  std::string out;
  out.reserve(x.size());
  for (char c : x) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else if (c == '"' && quotes)
      out += "\\\"";
    else
      out += c;
  }
  return out;
}

}  // namespace

std::string escape_label_value(std::string_view x) {
  return escape(x, true);
}

std::string escape_help(std::string_view x) {
  return escape(x, false);
}

std::string format_value(double x) {
  if (std::isnan(x)) return "NaN";
  if (std::isinf(x)) return x > 0 ? "+Inf" : "-Inf";
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, x);
  return std::string{buf, r.ptr};
}

void text_writer::declare(std::string_view name, std::string_view type, std::string_view help) {
  out_.append("# HELP ").append(name).append(" ").append(escape_help(help)).append("\n");
  out_.append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

void text_writer::write_labels(std::span<const label> labels, const label* extra) {
  if (labels.empty() && extra == nullptr) return;
  out_ += '{';
  bool first = true;
  auto one = [&](const label& l) {
    if (!first) out_ += ',';
    first = false;
    out_.append(l.first).append("=\"").append(escape_label_value(l.second)).append("\"");
  };
  for (const auto& l : labels) one(l);
  if (extra != nullptr) one(*extra);
  out_ += '}';
}

void text_writer::sample(std::string_view name, std::span<const label> labels,
                         std::string_view value) {
  out_.append(name);
  write_labels(labels, nullptr);
  out_.append(" ").append(value).append("\n");
}

void text_writer::sample(std::string_view name, std::span<const label> labels, int64_t value) {
  sample(name, labels, std::string_view{std::to_string(value)});
}

void text_writer::sample(std::string_view name, std::span<const label> labels, uint64_t value) {
  sample(name, labels, std::string_view{std::to_string(value)});
}

void text_writer::write(std::string_view name, std::span<const label> labels, const histogram& h) {
  auto snap = h.read();
  std::string bucket{name};
  bucket += "_bucket";
  for (std::size_t i = 0; i <= snap.bounds.size(); ++i) {
    auto le = i < snap.bounds.size() ? format_value(snap.bounds[i]) : std::string{"+Inf"};
    label extra{"le", le};
    out_.append(bucket);
    write_labels(labels, &extra);
    out_.append(" ").append(std::to_string(snap.cumulative[i])).append("\n");
  }
  sample(std::string{name} + "_sum", labels, std::string_view{format_value(snap.sum)});
  sample(std::string{name} + "_count", labels, snap.count());
}

}  // namespace caa::metrics
