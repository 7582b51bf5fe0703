#include "reply.hpp"

#include <algorithm>

namespace scripted_model {

namespace {

/// Moves `pos` back to the start of a UTF-8 sequence so a split never cuts a character.
std::size_t utf8_boundary(const std::string& s, std::size_t pos) {
  while (pos > 0 && pos < s.size() && (static_cast<unsigned char>(s[pos]) & 0xC0) == 0x80) --pos;
  return pos;
}

}  // namespace

std::string content_block::text() const {
  std::string out;
  for (const auto& d : deltas) out += d;
  return out;
}

content_block make_text(const std::string& text, std::size_t chunks) {
  content_block block;
  chunks = std::clamp<std::size_t>(chunks, 1, std::max<std::size_t>(text.size(), 1));
  const std::size_t step = (text.size() + chunks - 1) / chunks;
  std::size_t begin = 0;
  while (begin < text.size()) {
    std::size_t end = utf8_boundary(text, std::min(text.size(), begin + step));
    if (end <= begin) {  // a character longer than `step`: keep it whole
      end = std::min(text.size(), begin + step);
      while (end < text.size() && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) ++end;
    }
    block.deltas.push_back(text.substr(begin, end - begin));
    begin = end;
  }
  if (block.deltas.empty()) block.deltas.emplace_back();
  return block;
}

content_block make_tool_use(std::string name, std::string input_json) {
  content_block block;
  block.type = content_block::kind::tool_use;
  block.tool_name = std::move(name);
  block.input_json = std::move(input_json);
  return block;
}

reply text_reply(const std::string& text, std::size_t chunks) {
  reply r;
  r.blocks.push_back(make_text(text, chunks));
  return r;
}

reply tool_reply(std::vector<content_block> calls) {
  reply r;
  r.blocks = std::move(calls);
  r.stop_reason = "tool_use";
  return r;
}

reply error_reply(unsigned status, std::string message) {
  reply r;
  r.http_status = status;
  r.error_message = std::move(message);
  return r;
}

}  // namespace scripted_model
