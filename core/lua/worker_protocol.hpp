#pragma once
// The wire format between ProcessScriptRunner (process_runner.cpp) and its script workers
// (script_worker.cpp): frames of a 4-byte big-endian length and that many bytes of JSON.
//
//   worker -> parent, once, when sandboxed:  {"ready":true,"seccomp":"installed"}
//                                             ("seccomp": "unavailable: <why>" when it could not be)
//   parent -> worker, one per batch:         {"inputs":[<json>...],
//                                             "jobs":[{"code":"...","input":<index>,"limits":{...}}...]}
//   worker -> parent, one per request:       {"results":[{"status":"ok","output":<json>,"error":""}...],
//                                             "cpu_ms":<the worker's CPU time so far>}
//
// A batch's jobs often share one input (a run's context), so inputs are sent once and referred to
// by index. Internal to core/lua.
#include "core/lua/sandbox.hpp"

#include <boost/json/parse_options.hpp>
#include <boost/json/value.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace arclight::lua::wire {

constexpr std::size_t kHeaderBytes = 4;
/// Largest frame either side accepts unless told otherwise.
constexpr std::size_t kDefaultMaxFrameBytes = std::size_t{256} << 20;

/// For both sides: inputs and error messages may hold invalid UTF-8 and nest deeply (the sandbox
/// judges those, as in process; JSON text is only the transport).
inline boost::json::parse_options parse_options() {
    boost::json::parse_options o;
    o.max_depth = 1 << 16;
    o.allow_invalid_utf8 = true;
    return o;
}

/// Header + body.
std::string frame(std::string_view body);
std::uint32_t body_length(const unsigned char* header);

boost::json::value limits_to_json(const ScriptLimits& limits);
/// False when `v` is not an object of the expected members.
bool limits_from_json(const boost::json::value& v, ScriptLimits& out);
boost::json::value result_to_json(const ScriptResult& r);
bool result_from_json(const boost::json::value& v, ScriptResult& out);

}  // namespace arclight::lua::wire
