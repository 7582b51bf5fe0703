// Decoders of the prompt, images, model, permission mode, tools, env, paths, setting sources and
// metadata of a turn request.

#include "transport/api/query_decode.hpp"

#include "transport/json/json.hpp"

#include <algorithm>
#include <cstdint>

namespace caa::api::detail {

namespace {

/// The next code point of valid UTF-8 `s` at `i` (advances `i`).
uint32_t next_code_point(std::string_view s, std::size_t& i) {
  auto c = static_cast<unsigned char>(s[i++]);
  int extra = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : c >= 0xC0 ? 1 : 0;
  uint32_t cp = extra == 0 ? c : (c & (0x3F >> extra));
  for (; extra > 0 && i < s.size(); --extra)
    cp = (cp << 6) | (static_cast<unsigned char>(s[i++]) & 0x3F);
  return cp;
}

/// Whether `cp` is white space or an invisible filler (Unicode White_Space, ZWSP, BOM).
bool is_blank_code_point(uint32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200B) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
         cp == 0x205F || cp == 0x3000 || cp == 0xFEFF;
}

bool is_blank(std::string_view s) {
  for (std::size_t i = 0; i < s.size();)
    if (!is_blank_code_point(next_code_point(s, i))) return false;
  return true;
}

int base64_value(char c) noexcept {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/// The decoded size of strict base64 `s` (alphabet, length % 4, padding only at the end).
std::optional<std::size_t> base64_size(std::string_view s) {
  if (s.empty() || s.size() % 4 != 0) return std::nullopt;
  std::size_t pad = s.back() == '=' ? (s[s.size() - 2] == '=' ? 2 : 1) : 0;
  auto body = s.substr(0, s.size() - pad);
  if (!std::all_of(body.begin(), body.end(), [](char c) { return base64_value(c) >= 0; }))
    return std::nullopt;
  return s.size() / 4 * 3 - pad;
}

/// The first bytes of base64 `s` (at most 12).
std::string base64_head(std::string_view s) {
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (std::size_t i = 0; i < std::min<std::size_t>(s.size(), 16) && s[i] != '='; ++i) {
    acc = (acc << 6) | static_cast<uint32_t>(base64_value(s[i]));
    if ((bits += 6) >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  return out;
}

/// Whether the decoded bytes start like an image of `media_type`.
bool has_signature(std::string_view media_type, std::string_view head) {
  if (media_type == "image/png")
    return head.substr(0, 8) == std::string_view{"\x89PNG\r\n\x1A\n", 8};
  if (media_type == "image/jpeg") return head.substr(0, 3) == "\xFF\xD8\xFF";
  if (media_type == "image/gif")
    return head.substr(0, 6) == "GIF87a" || head.substr(0, 6) == "GIF89a";
  return head.size() >= 12 && head.substr(0, 4) == "RIFF" && head.substr(8, 4) == "WEBP";
}

void decode_image(const rapidjson::Value& v, const std::string& path, decode_context& ctx,
                  turn_request& req) {
  if (!v.IsObject()) {
    ctx.fail(path, "must be an object {type, media_type, data}");
    return;
  }
  auto before = ctx.errors.count();
  ctx.errors.reject_unknown(v, path, {"type", "media_type", "data"});
  auto* type = json::non_null_member(v, "type");
  if (type == nullptr || !type->IsString() || text_of(*type) != "base64")
    ctx.fail(path + ".type", "must be \"base64\"");
  auto* media = json::non_null_member(v, "media_type");
  constexpr std::string_view media_types[] = {"image/png", "image/jpeg", "image/gif", "image/webp"};
  bool media_ok = media != nullptr && media->IsString() &&
                  std::find(std::begin(media_types), std::end(media_types), text_of(*media)) !=
                      std::end(media_types);
  if (!media_ok)
    ctx.fail(path + ".media_type", "must be image/png, image/jpeg, image/gif or image/webp");
  auto* data = json::non_null_member(v, "data");
  auto size = data != nullptr && data->IsString() ? base64_size(text_of(*data)) : std::nullopt;
  if (!size)
    ctx.fail(path + ".data", "must be non-empty standard base64 without line breaks");
  else if (*size > turn_limits::image_bytes)
    ctx.fail(path + ".data", "must decode to at most 5 MiB");
  else if (media_ok && !has_signature(text_of(*media), base64_head(text_of(*data))))
    ctx.fail(path + ".data", "is not an image of the given media_type");
  if (ctx.errors.count() == before)
    req.images.push_back({std::string{text_of(*media)}, std::string{text_of(*data)}});
}

/// A relative path field at `path`; text checks only (the disk is checked by resolve_paths).
std::optional<std::string> read_path(const rapidjson::Value& v, const std::string& path,
                                     decode_context& ctx) {
  if (!v.IsString()) {
    ctx.fail(path, "must be a string");
    return std::nullopt;
  }
  if (auto bad = check_relative_path(text_of(v))) {
    ctx.fail(path, std::string{message_of(*bad)});
    return std::nullopt;
  }
  return std::string{text_of(v)};
}

}  // namespace

void decode_prompt(const rapidjson::Value& v, decode_context& ctx, turn_request& req) {
  auto text = json::read_string(v, "prompt", 1, turn_limits::prompt_chars, ctx.errors);
  if (!text) return;
  if (is_blank(*text))
    ctx.fail("prompt", "must not be only white space");
  else
    req.prompt = std::move(*text);
}

void decode_images(const rapidjson::Value& v, decode_context& ctx, turn_request& req) {
  if (!v.IsArray() || v.Size() > turn_limits::images) {
    ctx.fail("images", "must be a list of at most 20 images");
    return;
  }
  for (rapidjson::SizeType i = 0; i < v.Size(); ++i)
    decode_image(v[i], "images[" + std::to_string(i) + "]", ctx, req);
}

void decode_model(const rapidjson::Value& v, decode_context& ctx, turn_request& req) {
  if (v.IsString() && is_model_name(text_of(v)))
    req.model = std::string{text_of(v)};
  else
    ctx.fail("model", "must be sonnet, opus, haiku or a claude-... model id");
}

void decode_permission_mode(const rapidjson::Value& v, decode_context& ctx, turn_request& req) {
  if (!v.IsString() || !is_permission_mode(text_of(v))) {
    ctx.fail("permission_mode", "must be default, acceptEdits, plan, bypassPermissions or dontAsk");
  } else if (text_of(v) == "bypassPermissions" && !ctx.policy.allow_bypass) {
    ctx.fail("permission_mode", "bypassPermissions is not allowed for this tenant");
  } else {
    req.permission_mode = std::string{text_of(v)};
  }
}

void decode_allowed_tools(const rapidjson::Value& v, decode_context& ctx, turn_request& req) {
  req.allowed_tools = read_tools(v, "allowed_tools", false, ctx);
}

void decode_disallowed_tools(const rapidjson::Value& v, decode_context& ctx, turn_request& req) {
  req.disallowed_tools = read_tools(v, "disallowed_tools", false, ctx);
}

void decode_env(const rapidjson::Value& v, decode_context& ctx, turn_request& req) {
  req.env = read_env(v, "env", ctx);
}

void decode_cwd(const rapidjson::Value& v, decode_context& ctx, turn_request& req) {
  req.cwd = read_path(v, "cwd", ctx);
}

void decode_add_dirs(const rapidjson::Value& v, decode_context& ctx, turn_request& req) {
  if (!v.IsArray() || v.Size() > turn_limits::dirs) {
    ctx.fail("add_dirs", "must be a list of at most 20 relative paths");
    return;
  }
  for (rapidjson::SizeType i = 0; i < v.Size(); ++i)
    if (auto p = read_path(v[i], "add_dirs[" + std::to_string(i) + "]", ctx))
      req.add_dirs.push_back(std::move(*p));
}

void decode_plugins(const rapidjson::Value& v, decode_context& ctx, turn_request& req) {
  if (!v.IsArray() || v.Size() > turn_limits::dirs) {
    ctx.fail("plugins", "must be a list of at most 20 {\"path\": ...} objects");
    return;
  }
  for (rapidjson::SizeType i = 0; i < v.Size(); ++i) {
    auto path = "plugins[" + std::to_string(i) + "]";
    if (!v[i].IsObject()) {
      ctx.fail(path, "must be an object {\"path\": ...}");
      continue;
    }
    ctx.errors.reject_unknown(v[i], path, {"path"});
    auto* p = json::non_null_member(v[i], "path");
    if (p == nullptr)
      ctx.fail(path + ".path", "is required");
    else if (auto rel = read_path(*p, path + ".path", ctx))
      req.plugins.push_back(std::move(*rel));
  }
}

void decode_setting_sources(const rapidjson::Value& v, decode_context& ctx, turn_request& req) {
  std::vector<std::string> out;
  bool ok = v.IsArray();
  for (rapidjson::SizeType i = 0; ok && i < v.Size(); ++i) {
    ok = v[i].IsString() && (text_of(v[i]) == "user" || text_of(v[i]) == "project") &&
         std::find(out.begin(), out.end(), text_of(v[i])) == out.end();
    if (ok) out.emplace_back(text_of(v[i]));
  }
  if (ok)
    req.setting_sources = std::move(out);
  else
    ctx.fail("setting_sources", "must be a list of \"user\" and \"project\", each at most once");
}

void decode_metadata(const rapidjson::Value& v, decode_context& ctx, turn_request& req) {
  if (!v.IsObject()) {
    ctx.fail("metadata", "must be an object {title?, tags?}");
    return;
  }
  ctx.errors.reject_unknown(v, "metadata", {"title", "tags"});
  if (auto* title = json::non_null_member(v, "title")) {
    if (!title->IsString() || json::utf8_length(text_of(*title)) > turn_limits::title_chars ||
        has_control(text_of(*title)))
      ctx.fail("metadata.title", "must be a string of at most 200 characters without controls");
    else
      req.metadata.title = std::string{text_of(*title)};
  }
  auto* tags = json::non_null_member(v, "tags");
  if (tags == nullptr) return;
  bool ok = tags->IsArray() && tags->Size() <= turn_limits::tags;
  for (rapidjson::SizeType i = 0; ok && i < tags->Size(); ++i) {
    const auto& t = (*tags)[i];
    ok = t.IsString() && t.GetStringLength() != 0 &&
         json::utf8_length(text_of(t)) <= turn_limits::tag_chars && !has_control(text_of(t));
  }
  if (!ok) {
    ctx.fail("metadata.tags", "must be a list of at most 20 tags of 1 to 50 characters");
    return;
  }
  for (const auto& t : tags->GetArray()) req.metadata.tags.emplace_back(text_of(t));
}

}  // namespace caa::api::detail
