#include "transport/claude/result_figures.hpp"

#include "config/json_parse.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cctype>
#include <cmath>

namespace caa::claude {

namespace {

using writer = rapidjson::Writer<rapidjson::StringBuffer>;

bool counter(const rapidjson::Value& v) {
  if (!v.IsNumber()) return false;
  auto d = v.GetDouble();
  return std::isfinite(d) && d >= 0 && d <= max_turn_tokens && d == std::floor(d);
}

/// Writes the valid counters of `obj` (and of its objects, one level down); skips the rest.
void write_counters(writer& w, const rapidjson::Value& obj, int depth) {
  w.StartObject();
  for (auto& m : obj.GetObject()) {
    if (m.name.GetStringLength() > 64) continue;
    if (counter(m.value)) {
      w.Key(m.name.GetString(), m.name.GetStringLength());
      w.Uint64(static_cast<uint64_t>(m.value.GetDouble()));
    } else if (m.value.IsObject() && depth == 0) {
      w.Key(m.name.GetString(), m.name.GetStringLength());
      write_counters(w, m.value, depth + 1);
    } else if (m.value.IsString() && m.value.GetStringLength() <= 64) {
      w.Key(m.name.GetString(), m.name.GetStringLength());  // e.g. service_tier
      w.String(m.value.GetString(), m.value.GetStringLength());
    }
  }
  w.EndObject();
}

bool plausible_model(std::string_view name) {
  if (name.empty() || name.size() > 128) return false;
  for (char c : name) {
    auto u = static_cast<unsigned char>(c);
    if (!(std::isalnum(u) || c == '-' || c == '_' || c == '.' || c == ':' || c == '/' || c == '@' ||
          c == '[' || c == ']'))
      return false;
  }
  return true;
}

}  // namespace

result_figures read_result_figures(std::string_view line) {
  result_figures out;
  rapidjson::Document doc;
  if (!json::parse_untrusted_object(line, doc)) return out;
  if (auto it = doc.FindMember("total_cost_usd"); it != doc.MemberEnd() && it->value.IsNumber()) {
    auto cost = it->value.GetDouble();
    if (std::isfinite(cost) && cost >= 0 && cost <= max_turn_cost_usd) out.cost_usd = cost;
  }
  if (auto it = doc.FindMember("usage"); it != doc.MemberEnd() && it->value.IsObject()) {
    rapidjson::StringBuffer buf;
    writer w{buf};
    write_counters(w, it->value, 0);
    out.usage = std::string{buf.GetString(), buf.GetSize()};
  }
  if (auto it = doc.FindMember("model_usage");
      it != doc.MemberEnd() && it->value.IsObject() && it->value.MemberCount() > 0) {
    auto& name = it->value.MemberBegin()->name;
    std::string_view model{name.GetString(), name.GetStringLength()};
    if (plausible_model(model)) out.model = std::string{model};
  }
  return out;
}

}  // namespace caa::claude
