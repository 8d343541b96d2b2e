#include "core/lua/worker_protocol.hpp"

#include <boost/json.hpp>

#include <array>

namespace arclight::lua::wire {

namespace json = boost::json;

std::string frame(std::string_view body) {
    const auto n = static_cast<std::uint32_t>(body.size());
    std::string out;
    out.reserve(kHeaderBytes + body.size());
    out.push_back(static_cast<char>((n >> 24) & 0xFF));
    out.push_back(static_cast<char>((n >> 16) & 0xFF));
    out.push_back(static_cast<char>((n >> 8) & 0xFF));
    out.push_back(static_cast<char>(n & 0xFF));
    out.append(body);
    return out;
}

std::uint32_t body_length(const unsigned char* h) {
    return (std::uint32_t{h[0]} << 24) | (std::uint32_t{h[1]} << 16) | (std::uint32_t{h[2]} << 8) | std::uint32_t{h[3]};
}

json::value limits_to_json(const ScriptLimits& l) {
    return json::object{{"max_instructions", l.max_instructions},
                        {"cpu_ms", l.cpu_ms},
                        {"wall_ms", l.wall_ms},
                        {"memory_bytes", static_cast<std::uint64_t>(l.memory_bytes)},
                        {"max_output_bytes", static_cast<std::uint64_t>(l.max_output_bytes)}};
}

namespace {

bool get_int(const json::object& o, std::string_view key, std::int64_t& out) {
    const auto* v = o.if_contains(key);
    if (!v) return false;
    if (v->is_int64()) {
        out = v->get_int64();
        return true;
    }
    if (v->is_uint64() && v->get_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) {
        out = static_cast<std::int64_t>(v->get_uint64());
        return true;
    }
    return false;
}

constexpr std::array kStatuses = {ScriptResult::Status::ok,           ScriptResult::Status::syntax_error,
                                  ScriptResult::Status::runtime_error, ScriptResult::Status::instruction_limit,
                                  ScriptResult::Status::cpu_limit,    ScriptResult::Status::wall_limit,
                                  ScriptResult::Status::memory_limit, ScriptResult::Status::bad_output};

}  // namespace

bool limits_from_json(const json::value& v, ScriptLimits& out) {
    const auto* o = v.if_object();
    if (!o) return false;
    std::int64_t instructions = 0, cpu = 0, wall = 0, memory = 0, output = 0;
    if (!get_int(*o, "max_instructions", instructions) || !get_int(*o, "cpu_ms", cpu) || !get_int(*o, "wall_ms", wall) ||
        !get_int(*o, "memory_bytes", memory) || !get_int(*o, "max_output_bytes", output))
        return false;
    if (cpu > INT32_MAX || wall > INT32_MAX || cpu < INT32_MIN || wall < INT32_MIN || memory < 0 || output < 0) return false;
    out.max_instructions = instructions;
    out.cpu_ms = static_cast<int>(cpu);
    out.wall_ms = static_cast<int>(wall);
    out.memory_bytes = static_cast<std::size_t>(memory);
    out.max_output_bytes = static_cast<std::size_t>(output);
    return true;
}

json::value result_to_json(const ScriptResult& r) {
    return json::object{{"status", to_string(r.status)}, {"output", r.output}, {"error", r.error}};
}

bool result_from_json(const json::value& v, ScriptResult& out) {
    const auto* o = v.if_object();
    if (!o || o->size() != 3) return false;
    const auto* status = o->if_contains("status");
    const auto* output = o->if_contains("output");
    const auto* error = o->if_contains("error");
    if (!status || !status->is_string() || !output || !error || !error->is_string()) return false;
    bool known = false;
    for (auto s : kStatuses) {
        if (status->get_string() == to_string(s)) {
            out.status = s;
            known = true;
        }
    }
    if (!known) return false;
    out.output = *output;
    out.error = std::string(error->get_string());
    return true;
}

}  // namespace arclight::lua::wire
