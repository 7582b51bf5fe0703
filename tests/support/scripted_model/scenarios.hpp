#pragma once

#include "conversation.hpp"
#include "directive.hpp"
#include "reply.hpp"

#include <optional>
#include <string>

namespace scripted_model {

/// The text of the default scenario (a prompt without a directive).
inline constexpr const char* default_text = "Hello from the scripted model.";

/// The text answered to the CLI's side requests (titles, quota checks, summaries).
inline constexpr const char* side_text = "Scripted side reply.";

/// Plays the scenario named in the latest prompt of `c` at step `c.step`.
/// Stateless: the same conversation always gives the same reply (up to ids).
reply play(const conversation& c);

/// Plays the scenario `d` (nullopt: the default scenario) for conversation `c`.
reply play(const conversation& c, const std::optional<directive>& d);

}  // namespace scripted_model
