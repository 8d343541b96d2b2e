#include "modules/workflow/definition_errors.hpp"

#include "core/util/text.hpp"

#include <boost/json.hpp>

#include <cctype>

namespace arclight::workflow {
namespace json = boost::json;

namespace {

// RFC 6901 tokens, unescaped.
std::vector<std::string> tokens_of(std::string_view pointer) {
    std::vector<std::string> out;
    if (pointer.empty()) return out;
    std::size_t i = pointer.front() == '/' ? 1 : 0;
    std::string cur;
    for (; i <= pointer.size(); ++i) {
        if (i == pointer.size() || pointer[i] == '/') {
            out.push_back(std::move(cur));
            cur.clear();
        } else if (pointer[i] == '~' && i + 1 < pointer.size() && (pointer[i + 1] == '0' || pointer[i + 1] == '1')) {
            cur += pointer[++i] == '0' ? '~' : '/';
        } else {
            cur += pointer[i];
        }
    }
    return out;
}

bool is_index(const std::string& t) {
    return !t.empty() && t.size() < 10 && std::all_of(t.begin(), t.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
}

const json::value* item(const json::value& doc, const char* array, std::size_t i) {
    const auto* o = doc.if_object();
    const auto* a = o ? o->if_contains(array) : nullptr;
    if (!a || !a->is_array() || i >= a->as_array().size()) return nullptr;
    return &a->as_array()[i];
}

std::string member_text(const json::value* v, const char* key) {
    const auto* o = v ? v->if_object() : nullptr;
    const auto* m = o ? o->if_contains(key) : nullptr;
    return m && m->is_string() ? std::string(m->as_string()) : std::string();
}

// The rest of a path below a task or trigger: keys joined by " → ", an array index attached to
// its array as [n]; the index of a depends_on item is left out (its message names the task).
std::string rest_of(const std::vector<std::string>& tokens, std::size_t from) {
    std::string out;
    for (std::size_t i = from; i < tokens.size(); ++i) {
        const auto& t = tokens[i];
        if (is_index(t) && i > from) {
            if (tokens[i - 1] == "depends_on" && i + 1 == tokens.size()) continue;
            out += "[" + t + "]";
            continue;
        }
        out += (out.empty() ? "" : " → ") + t;
    }
    return out;
}

}  // namespace

std::string error_place(const json::value& doc, std::string_view pointer) {
    auto tokens = tokens_of(pointer);
    if (tokens.empty()) return "the definition";
    std::string head;
    std::size_t rest = 1;
    if ((tokens[0] == "tasks" || tokens[0] == "triggers") && tokens.size() > 1 && is_index(tokens[1])) {
        std::size_t i = std::stoul(tokens[1]);
        rest = 2;
        if (tokens[0] == "tasks") {
            std::string id = member_text(item(doc, "tasks", i), "id");
            head = id.empty() ? "task " + std::to_string(i + 1) + " (no id)" : "task `" + id + "`";
        } else {
            std::string type = member_text(item(doc, "triggers", i), "type");
            head = "trigger " + std::to_string(i + 1) + (type.empty() ? "" : " (" + type + ")");
        }
    } else {
        head = tokens[0];
    }
    std::string tail = rest_of(tokens, rest);
    return tail.empty() ? head : head + " → " + tail;
}

void name_error_places(const json::value& doc, std::vector<FieldError>& errors, std::size_t from) {
    for (std::size_t i = from; i < errors.size(); ++i) errors[i].message = error_place(doc, errors[i].pointer) + ": " + errors[i].message;
}

std::string did_you_mean(std::string_view name, const std::vector<std::string>& candidates) {
    std::string best = closest_name(name, candidates);
    return best.empty() ? std::string() : " (did you mean `" + best + "`?)";
}

}  // namespace arclight::workflow
