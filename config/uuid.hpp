#pragma once

#include <string>

namespace caa {

/// A random (version 4) UUID in canonical lower-case form, from the OpenSSL CSPRNG.
std::string new_uuid();

}  // namespace caa
