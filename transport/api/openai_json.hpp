#pragma once

// The small JSON helpers the OpenAI renderings share (internal to openai_*.cpp).

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cctype>
#include <cstdint>
#include <string>
#include <string_view>

namespace caa::api::openai::detail {

using rapidjson::Value;
using writer = rapidjson::Writer<rapidjson::StringBuffer>;

inline std::string_view str_member(const Value& obj, const char* key) {
  if (!obj.IsObject()) return {};
  auto it = obj.FindMember(key);
  if (it == obj.MemberEnd() || !it->value.IsString()) return {};
  return {it->value.GetString(), it->value.GetStringLength()};
}

inline uint64_t uint_member(const Value& obj, const char* key) {
  if (!obj.IsObject()) return 0;
  auto it = obj.FindMember(key);
  if (it == obj.MemberEnd() || !it->value.IsUint64()) return 0;
  return it->value.GetUint64();
}

inline bool is_main_agent(const Value& doc) {
  auto it = doc.FindMember("parent_tool_use_id");
  return it == doc.MemberEnd() || it->value.IsNull();
}

inline std::string to_json(const Value& v) {
  rapidjson::StringBuffer buf;
  writer w{buf};
  v.Accept(w);
  return {buf.GetString(), buf.GetSize()};
}

inline std::string side_event(std::string_view name, std::string_view data) {
  std::string out = R"({"event":")";
  out += name;  // an event name of the API: [a-z_]+
  out += R"(","data":)";
  out += data;
  out += '}';
  return out;
}

inline void put(writer& w, const char* key, std::string_view v) {
  w.Key(key);
  w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
}

inline std::string finish(rapidjson::StringBuffer& buf) {
  return {buf.GetString(), buf.GetSize()};
}

inline std::string lower(std::string_view s) {
  std::string out{s};
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace caa::api::openai::detail
