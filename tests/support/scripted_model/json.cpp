#include "json.hpp"

namespace scripted_model::json {

bool parse(std::string_view text, rapidjson::Document& doc) {
  doc.Parse<rapidjson::kParseIterativeFlag>(text.data(), text.size());
  return !doc.HasParseError();
}

bool is_valid(std::string_view text) {
  rapidjson::Document doc;
  return parse(text, doc);
}

std::string_view get_string(const rapidjson::Value& obj, const char* key,
                            std::string_view fallback) {
  const auto* v = find(obj, key);
  if (v == nullptr || !v->IsString()) return fallback;
  return {v->GetString(), v->GetStringLength()};
}

const rapidjson::Value* find(const rapidjson::Value& obj, const char* key) {
  if (!obj.IsObject()) return nullptr;
  auto it = obj.FindMember(key);
  return it == obj.MemberEnd() ? nullptr : &it->value;
}

void write_string(writer& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

std::string quote(std::string_view s) {
  rapidjson::StringBuffer buf;
  writer w(buf);
  write_string(w, s);
  return {buf.GetString(), buf.GetSize()};
}

std::string to_string(const rapidjson::Value& v) {
  rapidjson::StringBuffer buf;
  writer w(buf);
  v.Accept(w);
  return {buf.GetString(), buf.GetSize()};
}

}  // namespace scripted_model::json
