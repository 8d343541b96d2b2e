#include "core/http/router.hpp"

#include <fmt/format.h>

#include <stdexcept>

namespace arclight {
namespace {

std::vector<std::string_view> split_path(std::string_view path) {
    std::vector<std::string_view> out;
    if (path.empty() || path[0] != '/') return out;
    path.remove_prefix(1);
    while (true) {
        auto slash = path.find('/');
        out.push_back(path.substr(0, slash));
        if (slash == std::string_view::npos) break;
        path.remove_prefix(slash + 1);
    }
    return out;
}

bool is_param(std::string_view seg) { return seg.size() > 2 && seg.front() == '{' && seg.back() == '}'; }
bool is_rest(std::string_view seg) { return is_param(seg) && seg[seg.size() - 2] == '*'; }
std::string param_name(std::string_view seg) {
    return std::string(seg.substr(1, seg.size() - (is_rest(seg) ? 3 : 2)));
}

}  // namespace

void Router::add(Route route) {
    if (route.permission.empty()) {
        throw std::logic_error(fmt::format("route {} {} declares no permission (use kPublic for public routes)",
                                           route.method, route.pattern));
    }
    if (route.summary.empty()) throw std::logic_error(fmt::format("route {} {} has no summary", route.method, route.pattern));
    if (!route.handler && !route.sync_handler) {
        throw std::logic_error(fmt::format("route {} {} has no handler", route.method, route.pattern));
    }
    if (route.sync_handler && (route.permission != kPublic || route.json_body)) {
        throw std::logic_error(fmt::format("route {} {}: synchronous handlers are for public routes without a body",
                                           route.method, route.pattern));
    }
    if (route.pattern.empty() || route.pattern[0] != '/') {
        throw std::logic_error(fmt::format("route pattern \"{}\" must start with /", route.pattern));
    }
    Compiled c;
    auto segs = split_path(route.pattern);
    for (std::size_t i = 0; i < segs.size(); ++i) {
        auto s = segs[i];
        if (s.find('{') != std::string_view::npos && !is_param(s)) {
            throw std::logic_error(fmt::format("route pattern \"{}\": malformed parameter \"{}\"", route.pattern, s));
        }
        if (is_rest(s) && i + 1 != segs.size()) {
            throw std::logic_error(fmt::format("route pattern \"{}\": {{name*}} must be the last segment", route.pattern));
        }
        if (!is_param(s)) ++c.literal_count;
        c.segments.emplace_back(s);
    }
    for (const auto& r : routes_) {
        if (r.method == route.method && r.pattern == route.pattern) {
            throw std::logic_error(fmt::format("duplicate route {} {}", route.method, route.pattern));
        }
    }
    routes_.push_back(std::move(route));
    compiled_.push_back(std::move(c));
}

RouteMatch Router::match(std::string_view method, std::string_view path) const {
    RouteMatch best;
    auto segs = split_path(path);
    long best_score = -1;
    for (std::size_t i = 0; i < routes_.size(); ++i) {
        const auto& c = compiled_[i];
        std::map<std::string, std::string, std::less<>> params;
        bool ok = true;
        std::size_t n = c.segments.size();
        bool rest = n > 0 && is_rest(c.segments.back());
        if (rest ? segs.size() < n : segs.size() != n) continue;
        for (std::size_t j = 0; j < n && ok; ++j) {
            const auto& pat = c.segments[j];
            if (is_rest(pat)) {
                std::string joined;
                for (std::size_t k = j; k < segs.size(); ++k) {
                    if (k > j) joined += '/';
                    joined += segs[k];
                }
                if (joined.empty()) ok = false;
                else params[param_name(pat)] = std::move(joined);
            } else if (is_param(pat)) {
                if (segs[j].empty()) ok = false;
                else params[param_name(pat)] = std::string(segs[j]);
            } else if (pat != segs[j]) {
                ok = false;
            }
        }
        if (!ok) continue;
        if (routes_[i].method != method) {
            best.path_known = true;
            best.allowed.push_back(routes_[i].method);
            continue;
        }
        long score = static_cast<long>(c.literal_count) * 2 + (rest ? 0 : 1);
        if (score > best_score) {
            best_score = score;
            best.route = &routes_[i];
            best.params = std::move(params);
        }
    }
    return best;
}

boost::json::object Router::openapi(std::string_view version) const {
    boost::json::object paths;
    for (const auto& r : routes_) {
        std::string oapath;
        boost::json::array parameters;
        for (auto s : split_path(r.pattern)) {
            oapath += '/';
            if (is_param(s)) {
                auto name = param_name(s);
                oapath += "{" + name + "}";
                parameters.push_back(boost::json::object{
                    {"name", name}, {"in", "path"}, {"required", true}, {"schema", {{"type", "string"}}}});
            } else {
                oapath.append(s);
            }
        }
        boost::json::object op;
        op["summary"] = r.summary;
        op["operationId"] = fmt::format("{}_{}", r.method, r.pattern);
        if (!r.tag.empty()) op["tags"] = boost::json::array{boost::json::string(r.tag)};
        op["x-permission"] = r.permission;
        if (!parameters.empty()) op["parameters"] = parameters;
        if (r.json_body) {
            boost::json::object schema = r.request_schema.empty() ? boost::json::object{{"type", "object"}} : r.request_schema;
            op["requestBody"] = {{"required", true}, {"content", {{"application/json", {{"schema", schema}}}}}};
        }
        boost::json::object ok{{"description", "Success"}};
        if (!r.response_schema.empty()) ok["content"] = {{"application/json", {{"schema", r.response_schema}}}};
        boost::json::object responses;
        responses[std::to_string(r.success_status)] = ok;
        responses["default"] = {{"description", "Error"},
                                {"content", {{"application/problem+json", {{"schema", {{"$ref", "#/components/schemas/Problem"}}}}}}}};
        op["responses"] = responses;
        std::string m;
        for (char ch : r.method) m += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        auto& entry = paths[oapath];
        if (!entry.is_object()) entry = boost::json::object{};
        entry.as_object()[m] = std::move(op);
    }
    auto str = [] { return boost::json::object{{"type", "string"}}; };
    boost::json::object field_error{{"type", "object"},
                                    {"properties", {{"pointer", str()}, {"message", str()}}}};
    boost::json::object props{{"type", str()},   {"title", str()},      {"status", {{"type", "integer"}}},
                              {"detail", str()}, {"instance", str()},   {"code", str()},
                              {"request_id", str()}};
    props["errors"] = boost::json::object{{"type", "array"}, {"items", field_error}};
    boost::json::object problem{{"type", "object"},
                                {"properties", props},
                                {"required", boost::json::array{"type", "title", "status"}}};
    return {{"openapi", "3.1.0"},
            {"info", {{"title", "Arclight API"}, {"version", version}}},
            {"paths", paths},
            {"components", {{"schemas", {{"Problem", problem}}}}}};
}

}  // namespace arclight
