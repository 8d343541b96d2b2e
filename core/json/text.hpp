#pragma once
// Whether a JSON value can be stored: every string and key well-formed UTF-8 without NUL
// (core/util/text.hpp), every number finite.
#include <boost/json/fwd.hpp>

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

}  // namespace arclight
