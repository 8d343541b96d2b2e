#pragma once
// A definition's validation errors in the words of the definition: "/tasks/13/depends_on/0"
// is told as "task `reply` → depends_on", so a message reads without counting array items.
#include "core/errors/error.hpp"

#include <boost/json/fwd.hpp>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace arclight::workflow {

/// Where `pointer` is in the definition `doc`, as a reader names it: "task `reply` → depends_on",
/// "trigger 1 (webhook) → path", "name"; "the definition" for the empty pointer.
std::string error_place(const boost::json::value& doc, std::string_view pointer);

/// Prefixes each message of errors[from..] with its place and ": " (pointers stay as they are,
/// for editors that select the value).
void name_error_places(const boost::json::value& doc, std::vector<FieldError>& errors, std::size_t from);

/// " (did you mean `x`?)" when `name` is a likely misspelling of one of `candidates`; empty otherwise.
std::string did_you_mean(std::string_view name, const std::vector<std::string>& candidates);

}  // namespace arclight::workflow
