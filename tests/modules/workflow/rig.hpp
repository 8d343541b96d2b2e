#pragma once
// The workflow tests' client of the real server: the admin's calls, workflow creation, run
// starts, and waiting for a run's end by watching its status.
#include "tests/support/client.hpp"
#include "tests/support/test_env.hpp"

#include <boost/json.hpp>
#include <doctest/doctest.h>

#include <chrono>
#include <map>
#include <string>
#include <thread>

namespace arclight::test {

using Headers = std::map<std::string, std::string>;

struct Api {
    TestServer& srv;
    /// As the admin (API key); `extra` adds or replaces headers.
    HttpResult call(const std::string& method, const std::string& path, const std::string& body = {}, Headers extra = {}) {
        auto h = srv.admin();
        for (auto& [k, v] : extra) h[k] = v;
        return call_as(std::move(h), method, path, body);
    }
    /// With exactly these headers (another principal, or none).
    HttpResult call_as(Headers h, const std::string& method, const std::string& path, const std::string& body = {}) {
        if (!body.empty() && !h.count("Content-Type")) h["Content-Type"] = "application/json";
        return http(srv.port(), method, path, body, h);
    }
    std::string create(const std::string& def) {
        auto r = call("POST", "/api/v1/workflows", def);
        INFO(r.body);
        REQUIRE(r.status == 201);
        return std::string(r.json().at("id").as_string());
    }
    std::string start(const std::string& wf, const std::string& input = "{}") {
        auto r = call("POST", "/api/v1/workflows/" + wf + "/runs", "{\"input\":" + input + "}");
        INFO(r.body);
        REQUIRE(r.status == 201);
        return std::string(r.json().at("id").as_string());
    }
    boost::json::object run(const std::string& id) {
        auto r = call("GET", "/api/v1/runs/" + id);
        INFO(r.body);
        REQUIRE(r.status == 200);
        return r.json().as_object();
    }
    /// Polls until the run is final (or waiting when `until_waiting`); fails at the deadline.
    boost::json::object wait(const std::string& id, int timeout_ms = 15000, bool until_waiting = false) {
        auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
        boost::json::object r;
        while (std::chrono::steady_clock::now() < deadline) {
            r = run(id);
            std::string st(r.at("status").as_string());
            if (st == "succeeded" || st == "failed" || st == "cancelled") return r;
            if (until_waiting && st == "waiting") return r;
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        FAIL("run " << id << " did not finish: " << boost::json::serialize(r));
        return r;
    }
};

/// Task `id` of a run view.
inline const boost::json::object& task(const boost::json::object& run, const std::string& id) {
    for (const auto& t : run.at("tasks").as_array())
        if (t.as_object().at("id").as_string() == id) return t.as_object();
    FAIL("no task " << id);
    static boost::json::object none;
    return none;
}

/// A string as text, anything else serialized.
inline std::string str(const boost::json::value& v) {
    return v.is_string() ? std::string(v.as_string()) : boost::json::serialize(v);
}

}  // namespace arclight::test
