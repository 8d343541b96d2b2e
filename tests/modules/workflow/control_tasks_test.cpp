// Unit tests of the control task types' dispatch: every type is registered and resolved once,
// when a definition is compiled; unknown types are rejected there. And the webhook reply's
// conversion to HTTP.
#include <doctest/doctest.h>

#include "modules/workflow/definition.hpp"
#include "modules/workflow/events.hpp"
#include "modules/workflow/executors.hpp"
#include "modules/workflow/tasks/control_task.hpp"
#include "modules/workflow/webhook_reply.hpp"

#include "tests/modules/workflow/probe.hpp"

#include <boost/json.hpp>

using namespace arclight;
using namespace arclight::workflow;
namespace json = boost::json;

TEST_CASE("control tasks: every built-in type is registered, by name") {
    std::vector<std::string> expected{"approval", "decompose", "delay", "map", "respond", "subworkflow", "wait_for_event"};
    CHECK(control_task_names() == expected);
    CHECK(builtin_type_names() == expected);
    for (const auto& n : expected) {
        const auto* t = find_control_task(n);
        REQUIRE(t != nullptr);
        CHECK(t->type() == n);
        CHECK(is_builtin_type(n));
        CHECK(t->config_schema().is_object());
    }
    CHECK(find_control_task("script") == nullptr);
    CHECK(find_control_task("") == nullptr);
    CHECK(find_control_task("Delay") == nullptr);
    // What the state machine asks of them.
    CHECK(find_control_task("respond")->pure());
    CHECK(find_control_task("respond")->excluded_from_output());
    for (const char* n : {"approval", "wait_for_event", "subworkflow", "decompose"}) CHECK(find_control_task(n)->waits_outside());
    for (const char* n : {"delay", "map", "respond"}) CHECK_FALSE(find_control_task(n)->waits_outside());
}

TEST_CASE("control tasks: a definition resolves each task's type once, when compiled") {
    TaskTypeRegistry types;
    types.add(std::make_shared<test::ProbeType>());
    std::vector<FieldError> errors;
    auto def = parse_definition(json::parse(R"({"name":"d","tasks":[
        {"id":"a","type":"probe","config":{"value":1}},
        {"id":"w","type":"delay","config":{"seconds":0},"depends_on":["a"]},
        {"id":"m","type":"map","config":{"items":[1,2],"task":{"type":"probe","config":{"value":"{{ item }}"}}},"depends_on":["w"]},
        {"id":"r","type":"respond","config":{"body":"ok"},"depends_on":["m"]}]})"),
                                types, errors);
    REQUIRE(errors.empty());
    REQUIRE(def);
    CHECK(def->tasks[0].control == nullptr);
    CHECK(def->tasks[0].impl != nullptr);
    CHECK(def->tasks[1].control == &delay_task());
    CHECK(def->tasks[1].impl == nullptr);
    CHECK(def->tasks[2].control == &map_task());
    REQUIRE(def->tasks[2].map_task);
    CHECK(def->tasks[2].map_task->control == nullptr);
    CHECK(def->tasks[2].map_task->impl != nullptr);
    CHECK(def->tasks[3].control == &respond_task());
}

TEST_CASE("control tasks: unknown types and control types inside a map are rejected when compiled") {
    TaskTypeRegistry types;
    types.add(std::make_shared<test::ProbeType>());
    std::vector<FieldError> errors;
    auto def = parse_definition(json::parse(R"({"name":"d","tasks":[
        {"id":"a","type":"nope","config":{}},
        {"id":"m","type":"map","config":{"items":[1],"task":{"type":"delay","config":{"seconds":1}}}}]})"),
                                types, errors);
    CHECK(def == nullptr);
    bool unknown = false, inner = false;
    for (const auto& e : errors) {
        if (e.pointer == "/tasks/0/type" && e.message.find("unknown task type \"nope\"") != std::string::npos &&
            e.message.find("wait_for_event") != std::string::npos)
            unknown = true;
        if (e.pointer == "/tasks/1/config/task/type" && e.message.find("cannot run inside a map") != std::string::npos) inner = true;
    }
    CHECK(unknown);
    CHECK(inner);
}

TEST_CASE("control tasks: a webhook reply becomes the HTTP response") {
    WebhookReply none;
    auto r = to_http_response(none);
    CHECK(r.status == 200);
    CHECK(r.body.empty());
    CHECK(r.content_type == "text/plain; charset=utf-8");

    WebhookReply text;
    text.status = 201;
    text.body = std::string("hello");
    text.headers.emplace_back("X-A", "1");
    r = to_http_response(text);
    CHECK(r.status == 201);
    CHECK(r.body == "hello");
    CHECK(r.content_type == "text/plain; charset=utf-8");
    REQUIRE(r.headers.size() == 1);
    CHECK(r.headers[0].first == "X-A");

    WebhookReply j;
    j.body = json::value(json::object{{"a", 1}});
    r = to_http_response(j);
    CHECK(r.body == R"({"a":1})");
    CHECK(r.content_type == "application/json");

    j.content_type = "application/problem+json";
    CHECK(to_http_response(j).content_type == "application/problem+json");
}

TEST_CASE("events: topics and payloads") {
    CHECK(events::kRunSucceeded == "workflow.run.succeeded");
    CHECK(events::kTaskFailed == "workflow.task.failed");
    CHECK(events::is_own_topic(events::kRunQueued));
    CHECK_FALSE(events::is_own_topic("orders.created"));
    auto run = events::run_data({.run_id = "r", .workflow_id = "w", .status = "failed", .error = "boom"});
    CHECK(run.at("error") == "boom");
    CHECK_FALSE(events::run_data({.run_id = "r", .workflow_id = "w", .status = "queued"}).contains("error"));
    auto task = events::task_data({.run_id = "r", .workflow_id = "w", .task_id = "t", .type = "agent", .status = "succeeded",
                                   .attempts = 1, .started_at = 1000, .finished_at = 1500, .agent = "a1", .cost = 0.5});
    CHECK(task.at("latency_ms").as_int64() == 500);
    CHECK(task.at("agent") == "a1");
    CHECK(task.at("started_at").is_string());
    CHECK_FALSE(task.contains("error"));
}
