#pragma once
// Identifiers shared by every module (time: core/time/time.hpp).

#include <string>

namespace arclight {

/// A random (version 4) UUID in canonical text form. Thread-safe.
std::string new_uuid();

}  // namespace arclight
