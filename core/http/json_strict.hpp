#pragma once
// What JSON parsers let through but Arclight refuses at the edge: a key repeated in one object
// (parsers keep one of them silently) and a number too large for a double (it would become
// Infinity, which is not JSON: stored, it makes the document unreadable).
#include "core/errors/error.hpp"

#include <boost/json/value.hpp>

#include <optional>
#include <string_view>

namespace arclight {

/// For JSON `text` that parses: the first repeated key or out-of-range number, with its JSON
/// pointer (RFC 6901); nullopt when there is none (and for text that does not parse, which the
/// parser reports itself). One pass, no tree built.
std::optional<FieldError> strict_json_problem(std::string_view text);

/// A request body as JSON (nesting up to 64 levels), or Error(invalid_json): not JSON, or what
/// strict_json_problem refuses (with its pointer). Used for every JSON body that comes in.
boost::json::value parse_request_json(std::string_view text);

}  // namespace arclight
