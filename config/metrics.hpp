#pragma once

// Metrics: counters, gauges and fixed-bucket histograms that any thread records into without a
// lock or an allocation (relaxed atomics), labelled families whose number of label sets is bounded
// when they are made, and their rendering in the Prometheus text format 0.0.4 (`text_writer`).
// The metrics the service exports are in config/metrics_catalog.hpp.

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace caa::metrics {

/// A count that only goes up.
class counter {
 public:
  /// Adds `n`.
  void inc(uint64_t n = 1) noexcept { value_.fetch_add(n, std::memory_order_relaxed); }
  /// The current count.
  uint64_t value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

/// A value that goes up and down.
class gauge {
 public:
  /// Replaces the value.
  void set(int64_t x) noexcept { value_.store(x, std::memory_order_relaxed); }
  /// Adds `n`.
  void add(int64_t n = 1) noexcept { value_.fetch_add(n, std::memory_order_relaxed); }
  /// Subtracts `n`.
  void sub(int64_t n = 1) noexcept { value_.fetch_sub(n, std::memory_order_relaxed); }
  /// The current value.
  int64_t value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> value_{0};
};

/// Observations counted in fixed buckets (finite upper bounds, ascending; `+Inf` is implicit),
/// with their sum. The bounds are set before the first observation and never change.
class histogram {
 public:
  /// The most finite bounds.
  static constexpr std::size_t max_bounds = 16;

  /// What a reader sees: cumulative counts per bucket (`+Inf` last) and the sum.
  struct snapshot {
    std::span<const double> bounds;                     ///< the finite bounds
    std::array<uint64_t, max_bounds + 1> cumulative{};  ///< observations <= each bound, +Inf
    double sum = 0;                                     ///< the sum of the observations

    /// The number of observations (the `+Inf` bucket).
    uint64_t count() const noexcept { return cumulative[bounds.size()]; }
  };

  /// A histogram with the `+Inf` bucket only (`configure` adds bounds).
  histogram() = default;
  /// A histogram with `bounds` (see `configure`).
  explicit histogram(std::span<const double> bounds) { configure(bounds); }

  /// Sets the bounds: finite, strictly ascending, at most `max_bounds` (throws
  /// std::invalid_argument otherwise). Only before the histogram is shared.
  void configure(std::span<const double> bounds);

  /// Counts `x` in the first bucket whose bound is >= x; NaN is ignored.
  void observe(double x) noexcept;

  /// The current counts (each bucket read once, so the cumulative counts never decrease).
  snapshot read() const noexcept;

 private:
  std::size_t size_ = 0;
  std::array<double, max_bounds> bounds_{};
  std::array<std::atomic<uint64_t>, max_bounds + 1> counts_{};
  std::atomic<double> sum_{0};
};

/// The most labels of one family.
inline constexpr std::size_t max_labels = 4;

/// The most bytes of the label values of one series; a longer set is counted in the overflow
/// series.
inline constexpr std::size_t max_label_bytes = 160;

/// The label value of every label of the overflow series (label sets beyond a family's capacity).
inline constexpr std::string_view overflow_value = "other";

namespace detail {

/// The label sets of one family: an insert-only open-addressing table of fixed capacity. Lookups
/// never lock nor allocate; a new set is written once into a free slot (claimed with a CAS, the
/// rare concurrent reader of that very slot waits the few stores it takes).
class label_table {
 public:
  /// A table of `labels` labels (<= max_labels) with room for `capacity` sets (rounded up to a
  /// power of two).
  label_table(std::size_t labels, std::size_t capacity);
  ~label_table();
  label_table(const label_table&) = delete;
  label_table& operator=(const label_table&) = delete;

  /// The slot of `values` (`values.size()` == labels), inserted if new; `capacity()` (the
  /// overflow slot) when the table is full or the values are longer than max_label_bytes.
  std::size_t index(std::span<const std::string_view> values) noexcept;

  /// Writes the values of slot `i` (< capacity(), or the overflow slot) into `out`; false when
  /// the slot holds no set (the overflow slot: until it was first used).
  bool values_of(std::size_t i, std::span<std::string_view> out) const noexcept;

  /// The number of slots (the overflow slot is the next index).
  std::size_t capacity() const noexcept { return capacity_; }

 private:
  struct slot;
  std::size_t labels_;
  std::size_t capacity_;
  std::unique_ptr<slot[]> slots_;
  std::atomic<bool> overflow_used_{false};
};

}  // namespace detail

/// Metrics of one name told apart by label values, e.g. requests by route and status. The number
/// of label sets is bounded by `capacity`: later sets share one overflow series ("other").
template <class Metric, std::size_t Labels>
class family {
 public:
  static_assert(Labels > 0 && Labels <= max_labels);

  /// Label values of one series, in the order of the names.
  using values = std::array<std::string_view, Labels>;

  /// A family with label `names` (string literals) and room for `capacity` label sets;
  /// `args...` configure each metric (a histogram's bounds).
  template <class... Args>
  family(std::array<std::string_view, Labels> names, std::size_t capacity, const Args&... args)
      : names_(names),
        table_(Labels, capacity),
        metrics_(std::make_unique<Metric[]>(table_.capacity() + 1)) {
    if constexpr (sizeof...(Args) > 0)
      for (std::size_t i = 0; i <= table_.capacity(); ++i) metrics_[i].configure(args...);
  }

  /// The series of `v` (made on first use).
  Metric& at(const values& v) noexcept { return metrics_[table_.index(v)]; }

  /// The label names.
  const std::array<std::string_view, Labels>& names() const noexcept { return names_; }

  /// Calls `f(const values&, const Metric&)` for each series made so far (table order).
  template <class F>
  void for_each(F&& f) const {
    values v;
    for (std::size_t i = 0; i <= table_.capacity(); ++i)
      if (table_.values_of(i, v)) f(std::as_const(v), std::as_const(metrics_[i]));
  }

 private:
  std::array<std::string_view, Labels> names_;
  detail::label_table table_;
  std::unique_ptr<Metric[]> metrics_;
};

/// One label of a sample: name and value.
using label = std::pair<std::string_view, std::string_view>;

/// `x` escaped as a label value: backslash, double quote and line feed.
std::string escape_label_value(std::string_view x);

/// `x` escaped for a HELP line: backslash and line feed.
std::string escape_help(std::string_view x);

/// `x` as a sample value: the shortest text that reads back as `x`; "+Inf", "-Inf", "NaN".
std::string format_value(double x);

/// Builds an exposition in the Prometheus text format 0.0.4.
class text_writer {
 public:
  /// Starts metric `name` with its `# HELP` and `# TYPE` lines (`type`: counter, gauge,
  /// histogram).
  void declare(std::string_view name, std::string_view type, std::string_view help);

  /// One sample line: `name{labels} value`.
  void sample(std::string_view name, std::span<const label> labels, std::string_view value);
  /// A sample of a signed integer value.
  void sample(std::string_view name, std::span<const label> labels, int64_t value);
  /// A sample of an unsigned integer value.
  void sample(std::string_view name, std::span<const label> labels, uint64_t value);

  /// The `_bucket` lines (cumulative, `le` last, `+Inf` included), `_sum` and `_count` of `h`.
  void write(std::string_view name, std::span<const label> labels, const histogram& h);

  /// The text so far.
  const std::string& text() const noexcept { return out_; }
  /// Moves the text out.
  std::string take() noexcept { return std::move(out_); }

 private:
  void write_labels(std::span<const label> labels, const label* extra);

  std::string out_;
};

/// Writes a declaration and one sample per series of `f`.
template <class Metric, std::size_t Labels>
void write_family(text_writer& w, std::string_view name, std::string_view type,
                  std::string_view help, const family<Metric, Labels>& f) {
  w.declare(name, type, help);
  f.for_each([&](const auto& values, const Metric& m) {
    std::array<label, Labels> ls;
    for (std::size_t i = 0; i < Labels; ++i) ls[i] = {f.names()[i], values[i]};
    if constexpr (std::is_same_v<Metric, histogram>)
      w.write(name, ls, m);
    else
      w.sample(name, ls, m.value());
  });
}

}  // namespace caa::metrics
