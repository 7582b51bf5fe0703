#include "config/error_values.hpp"

#include <caf/atom.hpp>
#include <caf/message.hpp>
#include <caf/message_builder.hpp>

#include <algorithm>
#include <cmath>

namespace caa {

namespace {

constexpr caf::atom_value fields_tag = caf::atom("fields");
constexpr caf::atom_value retry_tag = caf::atom("retry");
constexpr caf::atom_value budget_tag = caf::atom("budget");

/// Calls `f(tag, index_after_tag)` for every atom tag in `msg`.
template <class F>
void for_each_tag(const caf::message& msg, F f) {
  for (size_t i = 0; i < msg.size(); ++i)
    if (msg.match_element<caf::atom_value>(i)) f(msg.get_as<caf::atom_value>(i), i + 1);
}

}  // namespace

caf::error validation_error(std::vector<field_error> fields) {
  caf::message_builder mb;
  mb.append(fields_tag);
  for (auto& f : fields) {
    mb.append(std::move(f.field));
    mb.append(std::move(f.message));
  }
  return caf::error{static_cast<uint8_t>(errc::validation), errc_category, mb.to_message()};
}

caf::error with_retry_after(caf::error e, std::chrono::duration<double> seconds) {
  if (!e) return e;
  auto hint = caf::make_message(retry_tag, retry_after_seconds(seconds.count()));
  return caf::error{e.code(), e.category(), caf::message::concat(e.context(), hint)};
}

caf::error budget_error(std::string cap, std::string resets_at) {
  return caf::error{static_cast<uint8_t>(errc::budget_exceeded), errc_category,
                    caf::make_message(budget_tag, std::move(cap), std::move(resets_at))};
}

std::optional<budget_detail> budget_of(const caf::error& e) {
  std::optional<budget_detail> out;
  if (errc_of(e) != errc::budget_exceeded) return out;
  const auto& ctx = e.context();
  for_each_tag(ctx, [&](caf::atom_value tag, size_t i) {
    if (tag == budget_tag && i + 1 < ctx.size() && ctx.match_element<std::string>(i) &&
        ctx.match_element<std::string>(i + 1))
      out = budget_detail{ctx.get_as<std::string>(i), ctx.get_as<std::string>(i + 1)};
  });
  return out;
}

std::vector<field_error> fields_of(const caf::error& e) {
  std::vector<field_error> out;
  if (errc_of(e) != errc::validation) return out;
  const auto& ctx = e.context();
  for_each_tag(ctx, [&](caf::atom_value tag, size_t i) {
    if (tag != fields_tag) return;
    for (; i + 1 < ctx.size(); i += 2) {
      if (!ctx.match_element<std::string>(i) || !ctx.match_element<std::string>(i + 1)) break;
      out.push_back({ctx.get_as<std::string>(i), ctx.get_as<std::string>(i + 1)});
    }
  });
  return out;
}

std::optional<uint32_t> retry_after_of(const caf::error& e) {
  std::optional<uint32_t> out;
  if (!e) return out;  // no error has no context at all
  const auto& ctx = e.context();
  for_each_tag(ctx, [&](caf::atom_value tag, size_t i) {
    if (tag == retry_tag && i < ctx.size() && ctx.match_element<uint32_t>(i))
      out = ctx.get_as<uint32_t>(i);
  });
  return out;
}

uint32_t retry_after_seconds(double seconds) noexcept {
  constexpr double one_day = 86400;
  if (!(seconds > 1))  // also catches NaN
    return 1;
  return static_cast<uint32_t>(std::ceil(std::min(seconds, one_day)));
}

}  // namespace caa
