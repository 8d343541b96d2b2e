#include "core/http/message.hpp"

#include <boost/json/serialize.hpp>

#include <strings.h>

namespace arclight {

std::string_view HttpRequest::header(std::string_view name) const {
    for (const auto& [k, v] : headers) {
        if (k.size() == name.size() && strncasecmp(k.data(), name.data(), k.size()) == 0) return v;
    }
    return {};
}

std::optional<std::string> HttpRequest::query_param(std::string_view name) const {
    std::string_view q = query;
    while (!q.empty()) {
        auto amp = q.find('&');
        auto part = q.substr(0, amp);
        auto eq = part.find('=');
        auto key = url_decode(part.substr(0, eq), true);
        if (key && *key == name) {
            if (eq == std::string_view::npos) return std::string{};
            return url_decode(part.substr(eq + 1), true);
        }
        if (amp == std::string_view::npos) break;
        q.remove_prefix(amp + 1);
    }
    return std::nullopt;
}

const std::string& HttpRequest::param(std::string_view name) const {
    auto it = params.find(name);
    if (it == params.end()) throw std::out_of_range("no path parameter " + std::string(name));
    return it->second;
}

HttpResponse HttpResponse::json(const boost::json::value& value, int status) {
    HttpResponse r;
    r.status = status;
    r.body = boost::json::serialize(value);
    return r;
}

HttpResponse HttpResponse::problem(ErrorCode code, std::string_view detail, const HttpRequest& req,
                                   const std::vector<FieldError>& errors) {
    HttpResponse r;
    r.status = error_info(code).status;
    r.content_type = "application/problem+json";
    r.body = problem_json(code, detail, req.path, req.request_id, errors);
    return r;
}

std::optional<std::string> url_decode(std::string_view in, bool plus_is_space) {
    std::string out;
    out.reserve(in.size());
    auto hex = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    for (std::size_t i = 0; i < in.size(); ++i) {
        char c = in[i];
        if (c == '%') {
            if (i + 2 >= in.size()) return std::nullopt;
            int h = hex(in[i + 1]), l = hex(in[i + 2]);
            if (h < 0 || l < 0) return std::nullopt;
            out += static_cast<char>(h * 16 + l);
            i += 2;
        } else if (c == '+' && plus_is_space) {
            out += ' ';
        } else {
            out += c;
        }
    }
    return out;
}

}  // namespace arclight
