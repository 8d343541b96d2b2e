// Every route of the built-in modules, walked with malformed input: path parameters, query
// parameters and bodies that are out of range, of the wrong type, deeply nested, not UTF-8, empty
// or enormous. Nothing may answer 5xx (or hang: each request has the client's timeout), and every
// refusal is a problem+json document.
#include <doctest/doctest.h>

#include "tests/support/client.hpp"
#include "tests/support/test_env.hpp"

#include <boost/json.hpp>

#include <string>
#include <vector>

using namespace arclight;
using namespace arclight::test;
namespace json = boost::json;

namespace {

std::string fill_path(const std::string& pattern, const std::string& value) {
    std::string out;
    for (std::size_t i = 0; i < pattern.size();) {
        if (pattern[i] == '{') {
            auto end = pattern.find('}', i);
            out += value;
            i = end + 1;
        } else {
            out += pattern[i++];
        }
    }
    return out;
}

const std::vector<std::string> kPathValues = {"x", "0", "-1", "99999999999999999999999", "%FF%FE", "%00",
                                              "00000000-0000-0000-0000-000000000000", std::string(300, 'a')};

const std::vector<std::string> kQueries = {
    "?since=99999999999999999999&until=-99999999999999999999",
    "?limit=99999999999999999999&cursor=%FF%FE&before=%00",
    "?limit=-1&offset=abc&page=1e999&status=%C3%28",
    "?since=2026-13-45T99:99:99Z&limit=0",
    "?q=" + std::string(4000, 'q'),
    "?workflow_id=%FF&status=&limit=&cursor=&&&=&a=%",
};

std::vector<std::string> bodies() {
    std::string deep_array(20000, '[');
    deep_array += std::string(20000, ']');
    std::string deep_object;
    for (int i = 0; i < 5000; ++i) deep_object += "{\"a\":";
    deep_object += "1" + std::string(5000, '}');
    return {"",
            "null",
            "[]",
            "1e999999",
            "{\"a\":",
            "{\"a\":1,\"a\":2}",
            "{\"name\":\"\xff\xfe\xc3\x28\"}",
            "{\"name\":1,\"tasks\":\"x\",\"input\":[],\"definition\":5,\"scopes\":{},\"password\":null,\"username\":[]}",
            "{\"limit\":99999999999999999999999,\"seconds\":-1e308,\"version\":1.5,\"active\":\"yes\"}",
            "{\"input\":{\"n\":1e999999}}",
            deep_array,
            deep_object,
            "{\"name\":\"" + std::string(300000, 'x') + "\"}"};
}

}  // namespace

TEST_CASE("hostile input: no route answers 5xx to malformed path parameters, queries or bodies") {
    TestServer srv;
    auto doc = http(srv.port(), "GET", "/api/v1/openapi.json").json();
    auto headers = srv.admin();
    int requests = 0;
    for (const auto& [path, ops] : doc.at("paths").as_object()) {
        for (const auto& [method_lc, op] : ops.as_object()) {
            std::string method;
            for (char c : method_lc) method += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
            std::string pattern(path);
            if (pattern.find("logout") != std::string::npos) continue;  // would end the admin's own access
            auto check = [&](const std::string& target, const std::string& body, const char* content_type) {
                auto h = headers;
                if (content_type) h["Content-Type"] = content_type;
                auto r = http(srv.port(), method, target, body, h);
                ++requests;
                INFO(method << " " << target << " body: " << body.substr(0, 120));
                INFO("answer: " << r.status << " " << r.body.substr(0, 300));
                CHECK(r.status < 500);
                if (r.status >= 400) CHECK(r.header("content-type") == "application/problem+json");
            };
            for (const auto& v : kPathValues) check(fill_path(pattern, v), "", nullptr);
            auto target = fill_path(pattern, "x");
            for (const auto& q : kQueries) check(target + q, "", nullptr);
            if (method == "POST" || method == "PUT" || method == "PATCH") {
                for (const auto& b : bodies()) check(target, b, "application/json");
                check(target, "{}", "text/plain");
                check(target, std::string(64, '\xff'), "application/json; charset=latin1");
            }
        }
    }
    CHECK(requests > 300);
    // The server is still whole.
    CHECK(http(srv.port(), "GET", "/readyz").status == 200);
}
