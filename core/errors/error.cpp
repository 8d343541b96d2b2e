#include "core/errors/error.hpp"

#include "core/util/text.hpp"

#include <boost/json.hpp>

namespace arclight {

const std::vector<ErrorInfo>& all_error_codes() {
    static const std::vector<ErrorInfo> codes = {
#define ARCLIGHT_ERROR(id, slug, status, title) {ErrorCode::id, slug, status, title},
#include "core/errors/codes.def"
#undef ARCLIGHT_ERROR
    };
    return codes;
}

const ErrorInfo& error_info(ErrorCode code) { return all_error_codes().at(static_cast<std::size_t>(code)); }

std::string problem_type(ErrorCode code) { return "urn:arclight:problem:" + std::string(error_info(code).slug); }

std::string problem_json(ErrorCode code, std::string_view detail, std::string_view instance,
                         std::string_view request_id, const std::vector<FieldError>& errors) {
    const auto& info = error_info(code);
    boost::json::object o;
    o["type"] = problem_type(code);
    o["title"] = info.title;
    o["status"] = info.status;
    // Text from the request (a path, a message quoting input) may not be UTF-8: JSON must be.
    o["detail"] = to_storable_text(detail);
    if (!instance.empty()) o["instance"] = to_storable_text(instance);
    o["code"] = info.slug;
    if (!request_id.empty()) o["request_id"] = request_id;
    if (!errors.empty()) {
        boost::json::array arr;
        for (const auto& e : errors)
            arr.push_back(boost::json::object{{"pointer", to_storable_text(e.pointer)}, {"message", to_storable_text(e.message)}});
        o["errors"] = std::move(arr);
    }
    return boost::json::serialize(o);
}

}  // namespace arclight
