#pragma once
// A JSON Schema (2020-12 subset) validator for task configs, workflow input schemas and trigger
// configs. Keywords: type (string or array), enum, const, properties, required,
// additionalProperties (bool or schema), items (schema), minItems, maxItems, minLength,
// maxLength, minimum, maximum, exclusiveMinimum, exclusiveMaximum, anyOf, oneOf, allOf, not,
// pattern is not supported (ignored, and check_schema reports it). "integer" accepts whole numbers.
// Unknown keywords are ignored like the spec says (title, description, default, examples, ...).
#include "core/errors/error.hpp"  // FieldError {pointer, message}
#include <boost/json/value.hpp>
#include <string>
#include <vector>

namespace arclight::jsonschema {

/// Validates `value` against `schema`, appending one FieldError per problem, each pointer being
/// `base` + the JSON pointer of the offending value (RFC 6901 escaping: ~0, ~1). Never throws on
/// any input (a malformed schema is treated leniently).
void validate_json(const boost::json::value& schema, const boost::json::value& value, const std::string& base,
                   std::vector<FieldError>& out);

/// Checks that `schema` is a usable schema of the supported subset (an object or boolean, known
/// type names, `required` an array of strings, numeric bounds numbers, nested schemas valid, no
/// unsupported keywords like `pattern` or `$ref`). Appends errors with pointers under `base`.
void check_schema(const boost::json::value& schema, const std::string& base, std::vector<FieldError>& out);

/// "~" -> "~0", "/" -> "~1".
std::string pointer_escape(std::string_view token);

}  // namespace arclight::jsonschema
