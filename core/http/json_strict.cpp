#include "core/http/json_strict.hpp"

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/parse.hpp>

#include <cmath>
#include <string>
#include <unordered_set>
#include <vector>

namespace arclight {
namespace {

struct StrictHandler {
    static constexpr std::size_t max_array_size = std::size_t(-1);
    static constexpr std::size_t max_object_size = std::size_t(-1);
    static constexpr std::size_t max_string_size = std::size_t(-1);
    static constexpr std::size_t max_key_size = std::size_t(-1);

    struct Frame {
        bool object = false;
        std::unordered_set<std::string> keys;
        std::string key;          // the current member's key (objects)
        std::size_t values = 0;   // values seen so far (arrays)
    };
    std::vector<Frame> stack;
    std::string key;
    std::optional<FieldError> problem;

    static void append_token(std::string& out, std::string_view token) {
        out += '/';
        for (char c : token) {
            if (c == '~') out += "~0";
            else if (c == '/') out += "~1";
            else out += c;
        }
    }
    std::string pointer() const {
        std::string out;
        for (const auto& f : stack) {
            if (f.object) append_token(out, f.key);
            else out += '/' + std::to_string(f.values == 0 ? 0 : f.values - 1);
        }
        return out;
    }
    void value() {
        if (!stack.empty() && !stack.back().object) ++stack.back().values;
    }
    bool stop(boost::json::error_code& ec, std::string where, const char* message) {
        problem = FieldError{std::move(where), message};
        ec = boost::json::error::extra_data;  // any error: parsing stops here
        return false;
    }

    bool on_document_begin(boost::json::error_code&) { return true; }
    bool on_document_end(boost::json::error_code&) { return true; }
    bool on_array_begin(boost::json::error_code&) {
        value();
        stack.push_back({});
        return true;
    }
    bool on_array_end(std::size_t, boost::json::error_code&) {
        stack.pop_back();
        return true;
    }
    bool on_object_begin(boost::json::error_code&) {
        value();
        stack.push_back({});
        stack.back().object = true;
        return true;
    }
    bool on_object_end(std::size_t, boost::json::error_code&) {
        stack.pop_back();
        return true;
    }
    bool on_string_part(boost::json::string_view, std::size_t, boost::json::error_code&) { return true; }
    bool on_string(boost::json::string_view, std::size_t, boost::json::error_code&) {
        value();
        return true;
    }
    bool on_key_part(boost::json::string_view s, std::size_t, boost::json::error_code&) {
        key.append(s.data(), s.size());
        return true;
    }
    bool on_key(boost::json::string_view s, std::size_t, boost::json::error_code& ec) {
        key.append(s.data(), s.size());
        auto& f = stack.back();
        f.key = key;
        key.clear();
        if (!f.keys.insert(f.key).second) return stop(ec, pointer(), "is a key that appears twice in its object");
        return true;
    }
    bool on_number_part(boost::json::string_view, boost::json::error_code&) { return true; }
    bool on_int64(std::int64_t, boost::json::string_view, boost::json::error_code&) {
        value();
        return true;
    }
    bool on_uint64(std::uint64_t, boost::json::string_view, boost::json::error_code&) {
        value();
        return true;
    }
    bool on_double(double d, boost::json::string_view, boost::json::error_code& ec) {
        value();
        if (!std::isfinite(d)) return stop(ec, pointer(), "is a number too large to represent");
        return true;
    }
    bool on_bool(bool, boost::json::error_code&) {
        value();
        return true;
    }
    bool on_null(boost::json::error_code&) {
        value();
        return true;
    }
    bool on_comment_part(boost::json::string_view, boost::json::error_code&) { return true; }
    bool on_comment(boost::json::string_view, boost::json::error_code&) { return true; }
};

// The cheap first look: no allocation, no pointer. Counts the members the text gives all its
// objects (a parsed tree keeps one member per key, so fewer there means a key given twice) and
// sees whether a number is out of range.
struct CountingHandler {
    static constexpr std::size_t max_array_size = std::size_t(-1);
    static constexpr std::size_t max_object_size = std::size_t(-1);
    static constexpr std::size_t max_string_size = std::size_t(-1);
    static constexpr std::size_t max_key_size = std::size_t(-1);
    std::size_t members = 0;
    bool non_finite = false;

    bool on_document_begin(boost::json::error_code&) { return true; }
    bool on_document_end(boost::json::error_code&) { return true; }
    bool on_array_begin(boost::json::error_code&) { return true; }
    bool on_array_end(std::size_t, boost::json::error_code&) { return true; }
    bool on_object_begin(boost::json::error_code&) { return true; }
    bool on_object_end(std::size_t n, boost::json::error_code&) {
        members += n;
        return true;
    }
    bool on_string_part(boost::json::string_view, std::size_t, boost::json::error_code&) { return true; }
    bool on_string(boost::json::string_view, std::size_t, boost::json::error_code&) { return true; }
    bool on_key_part(boost::json::string_view, std::size_t, boost::json::error_code&) { return true; }
    bool on_key(boost::json::string_view, std::size_t, boost::json::error_code&) { return true; }
    bool on_number_part(boost::json::string_view, boost::json::error_code&) { return true; }
    bool on_int64(std::int64_t, boost::json::string_view, boost::json::error_code&) { return true; }
    bool on_uint64(std::uint64_t, boost::json::string_view, boost::json::error_code&) { return true; }
    bool on_double(double d, boost::json::string_view, boost::json::error_code&) {
        if (!std::isfinite(d)) non_finite = true;
        return true;
    }
    bool on_bool(bool, boost::json::error_code&) { return true; }
    bool on_null(boost::json::error_code&) { return true; }
    bool on_comment_part(boost::json::string_view, boost::json::error_code&) { return true; }
    bool on_comment(boost::json::string_view, boost::json::error_code&) { return true; }
};

std::size_t members_in(const boost::json::value& v) {
    std::size_t n = 0;
    if (v.is_object()) {
        n += v.get_object().size();
        for (const auto& m : v.get_object()) n += members_in(m.value());
    } else if (v.is_array()) {
        for (const auto& e : v.get_array()) n += members_in(e);
    }
    return n;
}

}  // namespace

std::optional<FieldError> strict_json_problem(std::string_view text) {
    boost::json::parse_options opt;
    opt.max_depth = 10000;  // depth is the caller's parser's business
    boost::json::basic_parser<StrictHandler> p(opt);
    boost::json::error_code ec;
    p.write_some(false, text.data(), text.size(), ec);
    return std::move(p.handler().problem);
}

boost::json::value parse_request_json(std::string_view text) {
    boost::system::error_code ec;
    boost::json::parse_options po;
    po.max_depth = 64;
    auto v = boost::json::parse(text, ec, {}, po);
    if (ec) throw Error(ErrorCode::invalid_json, "the request body is not valid JSON: " + ec.message());
    // Only text that has a repeated key or an out-of-range number takes the pass that names where.
    boost::json::basic_parser<CountingHandler> counter(po);
    counter.write_some(false, text.data(), text.size(), ec);
    if (!counter.handler().non_finite && counter.handler().members == members_in(v)) return v;
    if (auto bad = strict_json_problem(text)) {
        auto detail = "the request body is refused: " + bad->pointer + " " + bad->message;
        throw Error(ErrorCode::invalid_json, std::move(detail), {std::move(*bad)});
    }
    return v;
}

}  // namespace arclight
