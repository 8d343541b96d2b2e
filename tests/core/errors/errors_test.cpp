#include "core/errors/error.hpp"

#include <doctest/doctest.h>

#include <boost/json.hpp>

#include <set>

using namespace arclight;

TEST_CASE("every error code has a unique slug, a 4xx/5xx status and a title") {
    std::set<std::string_view> slugs;
    for (const auto& e : all_error_codes()) {
        CHECK(slugs.insert(e.slug).second);
        CHECK(e.status >= 400);
        CHECK(e.status < 600);
        CHECK(e.title.size() >= 5);
    }
}

TEST_CASE("problem+json carries type, title, status, detail, instance, code, request id and field errors") {
    auto body = boost::json::parse(problem_json(ErrorCode::validation_failed, "two fields are wrong", "/api/v1/x", "r-1",
                                                {{"/name", "is required"}, {"/tasks/0/type", "unknown task type"}}));
    CHECK(body.at("type").as_string() == "urn:arclight:problem:validation-failed");
    CHECK(body.at("title").as_string() == "Validation Failed");
    CHECK(body.at("status").as_int64() == 422);
    CHECK(body.at("detail").as_string() == "two fields are wrong");
    CHECK(body.at("instance").as_string() == "/api/v1/x");
    CHECK(body.at("code").as_string() == "validation-failed");
    CHECK(body.at("request_id").as_string() == "r-1");
    CHECK(body.at("errors").as_array().size() == 2);
    CHECK(body.at("errors").at(1).at("pointer").as_string() == "/tasks/0/type");
}
