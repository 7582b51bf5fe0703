#pragma once

#include <string>
#include <string_view>

namespace caa {

/// A random (version 4) UUID in canonical lower-case form, from the OpenSSL CSPRNG.
std::string new_uuid();

/// Whether `s` is a UUID in canonical 8-4-4-4-12 hexadecimal form, digits of either case (no
/// braces, no URN prefix, no surrounding space).
bool is_uuid(std::string_view s) noexcept;

}  // namespace caa
