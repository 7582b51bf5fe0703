#pragma once

// The events of the API stream (API.md "SSE stream") the service builds itself: `done`, `error`,
// system `message`s, `permission_request` and `question`. The events mapped from the CLI's
// output are in event_mapper.hpp.

#include <caf/timespan.hpp>

#include <rapidjson/document.h>

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace caa {

/// One event of the API stream (API.md "SSE stream"): its name and one-line JSON data.
struct api_event {
  std::string name;
  std::string data;
};

/// The `done` event: `reason` is completed, interrupted or error.
api_event done_event(std::string_view reason);

/// The data of the `gap` event: the ids `from`..`to` (inclusive) are not in the session's
/// history (events sent before being stored, lost when their node stopped; async durability).
std::string gap_event_data(uint64_t from, uint64_t to);

/// The `budget_reached` event: the tenant's hard spend cap `cap` ("daily_usd" or "monthly_usd")
/// of `limit_usd` stopped the turn with `spent_usd` spent in its window; the window resets at
/// `resets_at` (RFC 3339). The turn's `done` follows.
api_event budget_reached_event(std::string_view cap, double limit_usd, double spent_usd,
                               std::string_view resets_at);

/// The `error` event: a public code and a fixed, sanitised message.
api_event error_event(std::string_view code, std::string_view message);

/// A system `message` event (API.md message type `system`) with a subtype, a text and extra
/// string members.
api_event system_message(std::string_view subtype, std::string_view text,
                         std::initializer_list<std::pair<const char*, std::string>> extra = {});

/// The `permission_request` event of the CLI's `can_use_tool` request `req`: directories in the
/// permission suggestions become relative to `work_root`, suggestions outside it are dropped.
api_event permission_event(const std::string& request_id, const rapidjson::Value& req,
                           const std::string& expires_at, const std::string& work_root);

/// The `question` event of an AskUserQuestion request with tool input `input`; appends the
/// question texts, in order, to `questions`.
api_event question_event(const std::string& request_id, const rapidjson::Value& input,
                         const std::string& tool_use_id, const std::string& expires_at,
                         std::vector<std::string>& questions);

/// `t` in RFC 3339 (UTC, milliseconds), e.g. "2024-05-01T12:00:00.000Z".
std::string rfc3339(std::chrono::system_clock::time_point t);

/// RFC 3339 (UTC, milliseconds) of now + `d`.
std::string rfc3339_after(caf::timespan d);

}  // namespace caa
