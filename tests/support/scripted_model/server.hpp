#pragma once

#include "options.hpp"

namespace scripted_model {

/// Runs the scripted model until SIGTERM or SIGINT: listens, prints `LISTENING <port>` on
/// stdout (flushed), writes the port file, serves. Returns the process exit code.
int run_server(const options& opts);

}  // namespace scripted_model
