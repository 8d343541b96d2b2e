#pragma once
// Bytes and text: UTF-8 validity, Latin-1 to UTF-8, base64. Everything Arclight stores or sends
// as text is UTF-8 (PostgreSQL refuses anything else, JSON requires it); bytes that are not come
// in from the network and are made text here, losslessly, or refused with a clear error.
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace arclight {

/// True when `s` is well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing
/// above U+10FFFF). NUL bytes are well-formed but PostgreSQL text cannot hold them: see
/// storable_text.
bool valid_utf8(std::string_view s) noexcept;

/// Well-formed UTF-8 without NUL: text that both databases store as it is.
bool storable_text(std::string_view s) noexcept;

/// Each byte taken as ISO-8859-1 (the historical charset of HTTP header values): always valid
/// UTF-8, and reversible.
std::string latin1_to_utf8(std::string_view bytes);

/// `s` itself when it is storable text; otherwise its bytes taken as Latin-1 with NULs dropped
/// (for messages such as errors, whose exact bytes do not matter; data is refused or encoded).
std::string to_storable_text(std::string_view s);

/// Standard base64 (RFC 4648 §4) with padding.
std::string base64_encode(std::string_view bytes);

/// The candidate nearest to `name` by edit distance, when it is near enough to be a likely
/// misspelling (at most 2 edits, and fewer than `name` has characters); empty otherwise. For
/// "did you mean" hints.
std::string closest_name(std::string_view name, const std::vector<std::string>& candidates);

}  // namespace arclight
