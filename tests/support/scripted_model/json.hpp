#pragma once

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <string>
#include <string_view>

/// Small RapidJSON helpers shared by the scripted model.
namespace scripted_model::json {

/// The writer used for all output: compact UTF-8.
using writer = rapidjson::Writer<rapidjson::StringBuffer>;

/// Parses `text` into `doc`; false if it is not valid JSON.
bool parse(std::string_view text, rapidjson::Document& doc);

/// True if `text` is a valid JSON document.
bool is_valid(std::string_view text);

/// The string member `key` of `obj`, or `fallback` if absent or not a string.
std::string_view get_string(const rapidjson::Value& obj, const char* key,
                            std::string_view fallback = {});

/// The member `key` of `obj` if `obj` is an object that has it, else nullptr.
const rapidjson::Value* find(const rapidjson::Value& obj, const char* key);

/// Writes a string of any length.
void write_string(writer& w, std::string_view s);

/// `s` as a JSON string literal, quotes included.
std::string quote(std::string_view s);

/// `v` serialized compactly.
std::string to_string(const rapidjson::Value& v);

}  // namespace scripted_model::json
