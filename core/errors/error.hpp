#pragma once
// arclight::Error: the one exception type services throw for outcomes a client must see.
// The router's top-level catch turns it into an RFC 9457 problem+json response.

#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace arclight {

enum class ErrorCode {
#define ARCLIGHT_ERROR(id, slug, status, title) id,
#include "core/errors/codes.def"
#undef ARCLIGHT_ERROR
};

/// Static facts about a code, from codes.def.
struct ErrorInfo {
    ErrorCode code;
    std::string_view slug;
    int status;
    std::string_view title;
};

/// Every code in declaration order (for docs and meta-tests).
const std::vector<ErrorInfo>& all_error_codes();
const ErrorInfo& error_info(ErrorCode code);

/// One failing field of a validation error: a JSON pointer (RFC 6901) and a message.
struct FieldError {
    std::string pointer;
    std::string message;
};

/// Thrown by services; `detail` is shown to the client, so it must not leak internals.
class Error : public std::runtime_error {
public:
    Error(ErrorCode code, std::string detail, std::vector<FieldError> errors = {})
        : std::runtime_error(detail), code_(code), detail_(std::move(detail)), errors_(std::move(errors)) {}

    /// Adds a response header (e.g. Retry-After with 429). Returns *this for chaining in a throw.
    Error&& with_header(std::string name, std::string value) && {
        headers_.emplace_back(std::move(name), std::move(value));
        return std::move(*this);
    }

    ErrorCode code() const noexcept { return code_; }
    const std::vector<std::pair<std::string, std::string>>& headers() const noexcept { return headers_; }
    const std::string& detail() const noexcept { return detail_; }
    const std::vector<FieldError>& errors() const noexcept { return errors_; }

private:
    ErrorCode code_;
    std::string detail_;
    std::vector<FieldError> errors_;
    std::vector<std::pair<std::string, std::string>> headers_;
};

/// Renders a problem+json body. `instance` is the request path, `request_id` the request's id.
std::string problem_json(ErrorCode code, std::string_view detail, std::string_view instance,
                         std::string_view request_id, const std::vector<FieldError>& errors = {});

/// The stable `type` URI of a code.
std::string problem_type(ErrorCode code);

}  // namespace arclight
