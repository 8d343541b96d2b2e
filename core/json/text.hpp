#pragma once
// Whether a JSON value can be stored: every string and key well-formed UTF-8 without NUL
// (core/util/text.hpp), every number finite.
#include <boost/json/fwd.hpp>

#include <cstddef>
#include <optional>
#include <string>

namespace arclight {

/// The JSON pointer (RFC 6901) of the first string, key or number in `v` that cannot be stored,
/// with what is wrong with it; nullopt when all of it can. `base` prefixes the pointer.
struct UnstorableJson {
    std::string pointer;
    std::string problem;  ///< "is not valid UTF-8 text", "contains a NUL character", "is not a finite number"
};
std::optional<UnstorableJson> find_unstorable(const boost::json::value& v, const std::string& base = "");

/// About the length of `v` serialized as JSON (strings and keys counted without escapes, numbers
/// at their longest), without building the text: for limits on how much JSON something holds.
std::size_t json_size(const boost::json::value& v);

}  // namespace arclight
