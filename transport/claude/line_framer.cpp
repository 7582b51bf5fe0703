#include "transport/claude/line_framer.hpp"

#include <utility>

namespace caa::claude {

line_framer::line_framer(std::size_t max_line_bytes) : max_line_bytes_(max_line_bytes) {
  // nop
}

void line_framer::feed(std::string_view chunk, const line_handler& on_line,
                       const oversized_handler& on_oversized) {
  while (!chunk.empty()) {
    auto nl = chunk.find('\n');
    if (nl == std::string_view::npos) {
      append(chunk, on_oversized);
      return;
    }
    append(chunk.substr(0, nl), on_oversized);
    chunk.remove_prefix(nl + 1);
    if (discarding_) {
      discarding_ = false;
      discarded_ = 0;
      continue;
    }
    deliver(partial_, on_line);
  }
}

void line_framer::finish(const line_handler& on_line) {
  if (!discarding_) deliver(partial_, on_line);
  partial_.clear();
  discarding_ = false;
  discarded_ = 0;
}

void line_framer::append(std::string_view bytes, const oversized_handler& on_oversized) {
  if (discarding_) {
    discarded_ += bytes.size();
    return;
  }
  if (partial_.size() + bytes.size() <= max_line_bytes_) {
    partial_.append(bytes);
    return;
  }
  // Over the cap: report once, drop what we hold and everything up to the next newline.
  discarding_ = true;
  discarded_ = partial_.size() + bytes.size();
  std::string{}.swap(partial_);
  if (on_oversized) on_oversized(discarded_);
}

void line_framer::deliver(std::string& line, const line_handler& on_line) {
  if (!line.empty() && line.back() == '\r') line.pop_back();
  if (line.empty()) return;
  std::string out;
  out.swap(line);
  if (on_line) on_line(std::move(out));
}

}  // namespace caa::claude
