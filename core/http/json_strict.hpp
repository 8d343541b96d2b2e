#pragma once
// What JSON parsers let through but Arclight refuses at the edge: a key repeated in one object
// (parsers keep one of them silently) and a number too large for a double (it would become
// Infinity, which is not JSON: stored, it makes the document unreadable).
#include "core/errors/error.hpp"

#include <optional>
#include <string_view>

namespace arclight {

/// For JSON `text` that parses: the first repeated key or out-of-range number, with its JSON
/// pointer (RFC 6901); nullopt when there is none (and for text that does not parse, which the
/// parser reports itself). One pass, no tree built.
std::optional<FieldError> strict_json_problem(std::string_view text);

}  // namespace arclight
