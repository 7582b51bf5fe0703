#include "transport/sandbox/usage_scanner.hpp"

#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>

#include <algorithm>
#include <array>
#include <cctype>

namespace caa::sandbox {

namespace {

constexpr unsigned seen_input = 1;
constexpr unsigned seen_output = 2;
constexpr unsigned seen_cache_creation = 4;
constexpr unsigned seen_cache_read = 8;
constexpr std::size_t max_type_bytes = 32;

/// What a key (or an array level) is, as far as usage is concerned.
enum class slot : uint8_t {
  other,
  array,
  type,
  usage,
  message,
  input,
  output,
  cache_creation,
  cache_read
};

slot classify(std::string_view key) noexcept {
  if (key == "type") return slot::type;
  if (key == "usage") return slot::usage;
  if (key == "message") return slot::message;
  if (key == "input_tokens") return slot::input;
  if (key == "output_tokens") return slot::output;
  if (key == "cache_creation_input_tokens") return slot::cache_creation;
  if (key == "cache_read_input_tokens") return slot::cache_read;
  return slot::other;
}

/// Stores `v` in the field of `u` named by `s` and marks it seen.
void store(token_usage& u, unsigned& seen, slot s, uint64_t v) noexcept {
  switch (s) {
    case slot::input:
      u.input_tokens = v, seen |= seen_input;
      break;
    case slot::output:
      u.output_tokens = v, seen |= seen_output;
      break;
    case slot::cache_creation:
      u.cache_creation_input_tokens = v, seen |= seen_cache_creation;
      break;
    case slot::cache_read:
      u.cache_read_input_tokens = v, seen |= seen_cache_read;
      break;
    default:
      break;
  }
}

/// Copies the fields of `src` marked in `seen` into `dst`.
void merge(token_usage& dst, const token_usage& src, unsigned seen) noexcept {
  if (seen & seen_input) dst.input_tokens = src.input_tokens;
  if (seen & seen_output) dst.output_tokens = src.output_tokens;
  if (seen & seen_cache_creation) dst.cache_creation_input_tokens = src.cache_creation_input_tokens;
  if (seen & seen_cache_read) dst.cache_read_input_tokens = src.cache_read_input_tokens;
}

/// SAX handler keeping `type`, `usage.*` and `message.usage.*` of the top-level object.
struct usage_handler : rapidjson::BaseReaderHandler<rapidjson::UTF8<>, usage_handler> {
  explicit usage_handler(usage_fields& f) : out(f) {}

  bool StartObject() { return open(slot::other); }
  bool EndObject(rapidjson::SizeType) { return close(); }
  bool StartArray() { return open(slot::array); }
  bool EndArray(rapidjson::SizeType) { return close(); }
  bool Key(const char* s, rapidjson::SizeType n, bool) {
    if (depth < keys.size()) keys[depth] = classify({s, n});
    return true;
  }
  bool String(const char* s, rapidjson::SizeType n, bool) {
    if (depth == 1 && keys[1] == slot::type)
      out.type.assign(s, std::min<std::size_t>(n, max_type_bytes));
    return true;
  }
  bool Uint(unsigned v) { return number(v); }
  bool Uint64(uint64_t v) { return number(v); }
  bool Int(int v) { return v < 0 || number(static_cast<uint64_t>(v)); }
  bool Int64(int64_t v) { return v < 0 || number(static_cast<uint64_t>(v)); }

  bool open(slot s) {
    ++depth;
    if (depth < keys.size()) keys[depth] = s;
    return true;
  }
  bool close() {
    --depth;
    return true;
  }
  bool number(uint64_t v) {
    if (depth == 2 && keys[1] == slot::usage) store(out.top, out.top_seen, keys[2], v);
    if (depth == 3 && keys[1] == slot::message && keys[2] == slot::usage)
      store(out.message, out.message_seen, keys[3], v);
    return true;
  }

  usage_fields& out;
  std::size_t depth = 0;       ///< open containers
  std::array<slot, 4> keys{};  ///< keys[d]: the current key of the container at depth d
};

bool starts_with_data_field(std::string_view line) noexcept {
  return line.substr(0, 5) == "data:" || line == "data";
}

}  // namespace

body_kind kind_of(std::string_view content_type) noexcept {
  auto media = content_type.substr(0, content_type.find(';'));
  while (!media.empty() && (media.back() == ' ' || media.back() == '\t')) media.remove_suffix(1);
  auto is = [media](std::string_view want) {
    return media.size() == want.size() &&
           std::equal(media.begin(), media.end(), want.begin(), [](char a, char b) {
             return std::tolower(static_cast<unsigned char>(a)) == b;
           });
  };
  if (is("text/event-stream")) return body_kind::sse;
  if (is("application/json")) return body_kind::json;
  return body_kind::none;
}

bool read_usage_fields(std::string_view json, usage_fields& out) noexcept {
  try {
    usage_handler handler{out};
    rapidjson::MemoryStream stream{json.data(), json.size()};
    rapidjson::Reader reader;
    return !reader.Parse<rapidjson::kParseIterativeFlag>(stream, handler).IsError();
  } catch (...) {  // allocation failure inside the parser or the handler
    return false;
  }
}

usage_scanner::usage_scanner(body_kind kind, std::size_t max_event_bytes,
                             std::size_t max_json_bytes)
    : kind_(kind), max_event_bytes_(max_event_bytes), max_json_bytes_(max_json_bytes) {}

void usage_scanner::feed(std::string_view chunk) {
  if (finished_) return;
  if (kind_ == body_kind::sse) return feed_sse(chunk);
  if (kind_ != body_kind::json || json_overflow_) return;
  if (json_.size() + chunk.size() > max_json_bytes_) {
    json_overflow_ = true;
    json_ = std::string{};
    return;
  }
  json_.append(chunk);
}

void usage_scanner::finish() {
  if (finished_) return;
  finished_ = true;
  if (kind_ == body_kind::sse) {
    if (!line_.empty() || line_overflow_) end_line();
    dispatch_event();
  } else if (kind_ == body_kind::json && !json_overflow_) {
    usage_fields f;
    if (read_usage_fields(json_, f)) merge(usage_, f.top, f.top_seen);
    json_ = std::string{};
  }
}

void usage_scanner::feed_sse(std::string_view chunk) {
  while (!chunk.empty()) {
    if (after_cr_) {
      after_cr_ = false;
      if (chunk.front() == '\n') {
        chunk.remove_prefix(1);
        continue;
      }
    }
    auto end = chunk.find_first_of("\r\n");
    auto part = chunk.substr(0, end);
    if (!line_overflow_ && line_.size() + part.size() > max_event_bytes_) {
      line_overflow_ = true;
      // A data line too long to keep spoils its event; other fields do not matter.
      auto head = line_ + std::string{part.substr(0, 5)};
      if (starts_with_data_field(head.substr(0, 5))) data_overflow_ = has_data_ = true;
      line_.clear();
    } else if (!line_overflow_) {
      line_.append(part);
    }
    if (end == std::string_view::npos) return;
    after_cr_ = chunk[end] == '\r';
    end_line();
    chunk.remove_prefix(end + 1);
  }
}

void usage_scanner::end_line() {
  if (!line_overflow_) on_line(line_);
  line_.clear();
  line_overflow_ = false;
}

void usage_scanner::on_line(std::string_view line) {
  if (line.empty()) return dispatch_event();
  if (!starts_with_data_field(line)) return;  // comment, event, id, retry: not needed
  auto value = line.substr(std::min<std::size_t>(line.size(), 5));
  if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  if (data_overflow_) return;
  std::size_t extra = has_data_ ? 1 : 0;
  has_data_ = true;
  if (data_.size() + extra + value.size() > max_event_bytes_) {
    data_overflow_ = true;
    data_ = std::string{};
    return;
  }
  if (extra != 0) data_.push_back('\n');
  data_.append(value);
}

void usage_scanner::dispatch_event() {
  if (has_data_ && !data_overflow_ && data_.find("usage") != std::string::npos) {
    usage_fields f;
    if (read_usage_fields(data_, f)) apply(f);
  }
  data_.clear();
  has_data_ = false;
  data_overflow_ = false;
}

void usage_scanner::apply(const usage_fields& f) {
  if (f.type == "message_start") merge(usage_, f.message, f.message_seen);
  if (f.type == "message_delta") merge(usage_, f.top, f.top_seen);  // cumulative: last wins
}

}  // namespace caa::sandbox
