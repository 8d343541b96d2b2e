// What a synchronous webhook's caller got, as its run records it (issue 21, item 4): a respond
// task's output, the run's "response" (respond task, the run's end, the timeout), and the
// X-Arclight-Run-Id header on every hook answer. The real server, on the selected backend.
#include <doctest/doctest.h>

#include "modules/workflow/reply.hpp"
#include "tests/modules/workflow/rig.hpp"

#include "core/util/suppress_coroutine_frame_warning.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json.hpp>

using namespace arclight::test;
namespace json = boost::json;

namespace {

const char* kEcho = R"({"name": "echo", "active": true,
 "triggers": [{"type": "webhook", "method": "POST", "path": "echo", "respond": "sync"}],
 "tasks": [
   {"id": "add", "type": "script", "config": {"code": "local b = input.trigger.body; b.echoed = true; return b"}},
   {"id": "reply", "type": "respond", "depends_on": ["add"], "config": {"status": 200, "body": "{{ tasks.add.output }}"}}]})";

const Headers kJson{{"Content-Type", "application/json"}};

}  // namespace

TEST_CASE("workflow: the README's echo run records the response its caller got, and the answer names the run") {
    TestServer srv;
    Api api{srv};
    api.create(kEcho);
    auto r = http(srv.port(), "POST", "/hooks/echo", R"({"hello":1})", kJson);
    INFO(r.body);
    REQUIRE(r.status == 200);
    CHECK(r.json() == json::parse(R"({"hello":1,"echoed":true})"));
    auto id = r.header("x-arclight-run-id");
    REQUIRE(!id.empty());
    auto run = api.wait(id);
    INFO(json::serialize(run));
    CHECK(str(run.at("status")) == "succeeded");
    CHECK(str(run.at("trigger")) == "webhook");
    // The respond task's output: what it sent, and that it was delivered.
    CHECK(task(run, "reply").at("output") == json::parse(R"({"status":200,"content_type":"application/json","headers":{},
        "body":{"hello":1,"echoed":true},"delivered":true})"));
    // The run's response: that answer, named by its task.
    CHECK(run.at("response") == json::parse(R"({"source":"task","task_id":"reply","status":200,
        "content_type":"application/json","headers":{},"body":{"hello":1,"echoed":true}})"));
    // The data that flowed: add's output is what reply's body was made of.
    CHECK(task(run, "add").at("output") == json::parse(R"({"hello":1,"echoed":true})"));
    CHECK(run.at("input") == json::parse(R"({"hello":1})"));
}

TEST_CASE("workflow: a respond task's headers, content type and text body are recorded as sent") {
    TestServer srv;
    Api api{srv};
    api.create(R"({"name":"csv","active":true,"triggers":[{"type":"webhook","method":"POST","path":"csv","respond":"sync"}],
        "tasks":[{"id":"r","type":"respond","config":{"status":"{{ 201 }}","headers":{"Content-Type":"text/csv","X-Kind":"rows",
            "X-Arclight-Run-Id":"forged"},"body":"a,b\n1,2"}}]})");
    auto r = http(srv.port(), "POST", "/hooks/csv", "{}", kJson);
    REQUIRE(r.status == 201);
    CHECK(r.body == "a,b\n1,2");
    CHECK(r.header("content-type") == "text/csv");
    CHECK(r.header("x-kind") == "rows");
    // The server's header wins over the workflow's.
    auto id = r.header("x-arclight-run-id");
    CHECK(id != "forged");
    auto run = api.wait(id);
    INFO(json::serialize(run));
    auto out = task(run, "r").at("output").as_object();
    CHECK(out.at("status") == 201);
    CHECK(out.at("content_type") == "text/csv");
    CHECK(out.at("headers").as_object().at("X-Kind") == "rows");
    CHECK(out.at("body") == "a,b\n1,2");
    CHECK(out.at("delivered") == true);
    CHECK(run.at("response").at("source") == "task");
    CHECK(run.at("response").at("body") == "a,b\n1,2");
}

TEST_CASE("workflow: a sync run without a respond task records the run's end as its response") {
    TestServer srv;
    Api api{srv};
    api.create(R"({"name":"end","active":true,"triggers":[{"type":"webhook","method":"POST","path":"end","respond":"sync"}],
        "tasks":[{"id":"s","type":"set","config":{"values":{"got":"{{ input.n }}"}}}]})");
    auto r = http(srv.port(), "POST", "/hooks/end", R"({"n":7})", kJson);
    INFO(r.body);
    REQUIRE(r.status == 200);
    auto id = r.header("x-arclight-run-id");
    CHECK(r.json() == json::parse(R"({"id":")" + id + R"(","status":"succeeded","output":{"got":7}})"));
    auto run = api.wait(id);
    INFO(json::serialize(run));
    auto resp = run.at("response").as_object();
    CHECK(resp.at("source") == "run_end");
    CHECK(resp.at("status") == 200);
    CHECK(resp.at("content_type") == "application/json");
    CHECK(resp.at("body") == r.json());

    // A failed run answers with a problem, recorded the same way.
    api.create(R"j({"name":"boom","active":true,"triggers":[{"type":"webhook","method":"POST","path":"boom","respond":"sync"}],
        "tasks":[{"id":"s","type":"script","config":{"code":"error('boom')"}}]})j");
    auto f = http(srv.port(), "POST", "/hooks/boom", "{}", kJson);
    INFO(f.body);
    CHECK(f.status == 500);
    auto fid = f.header("x-arclight-run-id");
    auto failed = api.wait(fid);
    CHECK(str(failed.at("status")) == "failed");
    CHECK(failed.at("response").at("source") == "run_end");
    CHECK(failed.at("response").at("status") == 500);
    CHECK(failed.at("response").at("content_type") == "application/problem+json");
    CHECK(failed.at("response").at("body") == f.json());
}

TEST_CASE("workflow: a sync webhook that timed out records the 504 its caller got; the late respond task did not deliver") {
    TestServer srv;
    Api api{srv};
    api.create(R"({"name":"slow","active":true,
        "triggers":[{"type":"webhook","method":"POST","path":"slow","respond":"sync","timeout_ms":100}],
        "tasks":[{"id":"w","type":"delay","config":{"seconds":0.4}},
                 {"id":"r","type":"respond","depends_on":["w"],"config":{"body":"late"}}]})");
    auto r = http(srv.port(), "POST", "/hooks/slow", "{}", kJson);
    INFO(r.body);
    CHECK(r.status == 504);
    auto id = r.header("x-arclight-run-id");
    REQUIRE(!id.empty());
    auto run = api.wait(id);
    INFO(json::serialize(run));
    CHECK(str(run.at("status")) == "succeeded");
    CHECK(task(run, "r").at("output").at("delivered") == false);
    CHECK(task(run, "r").at("output").at("body") == "late");
    auto resp = run.at("response").as_object();
    CHECK(resp.at("source") == "timeout");
    CHECK(resp.at("status") == 504);
    CHECK(resp.at("content_type") == "application/problem+json");
    // The problem as it was sent: its text.
    REQUIRE(resp.at("body").is_string());
    CHECK(str(resp.at("body")) == r.body);
}

TEST_CASE("workflow: an async webhook names its run in X-Arclight-Run-Id; its run has no response") {
    TestServer srv;
    Api api{srv};
    api.create(R"({"name":"async","active":true,"triggers":[{"type":"webhook","method":"POST","path":"async"}],
        "tasks":[{"id":"s","type":"set","config":{"values":1}}]})");
    auto r = http(srv.port(), "POST", "/hooks/async", "{}", kJson);
    REQUIRE(r.status == 202);
    CHECK(r.header("x-arclight-run-id") == str(r.json().at("id")));
    auto run = api.wait(r.header("x-arclight-run-id"));
    CHECK(run.at("response").is_null());
    // No run, no header.
    auto none = http(srv.port(), "POST", "/hooks/nope", "{}", kJson);
    CHECK(none.status == 404);
    CHECK(none.header("x-arclight-run-id").empty());
}

TEST_CASE("workflow: a responder reserved by the run's end ignores the timeout and answers with the end") {
    namespace asio = boost::asio;
    using arclight::workflow::Responder;
    using arclight::workflow::WebhookReply;
    asio::io_context io;
    Responder resp;
    REQUIRE(resp.reserve());
    CHECK_FALSE(resp.reserve());
    WebhookReply timeout;
    timeout.status = 504;
    CHECK_FALSE(resp.deliver(timeout, "timeout"));  // the end has the answer
    WebhookReply got;
    asio::co_spawn(io, [&]() -> asio::awaitable<void> { got = co_await resp.wait(1, timeout); }, asio::detached);
    // The end is recorded well after the 1 ms timeout.
    asio::steady_timer later(io, std::chrono::milliseconds(50));
    later.async_wait([&](boost::system::error_code) {
        WebhookReply end;
        end.status = 201;
        end.body = std::string("done");
        resp.deliver_reserved(std::move(end));
    });
    io.run();
    CHECK(got.status == 201);
    CHECK(std::get<std::string>(got.body) == "done");
    CHECK(resp.answer().empty());  // the run's end: the run records it itself

    // Not reserved: the first delivery wins and is named.
    Responder first;
    WebhookReply a;
    a.body = boost::json::value(boost::json::object{{"x", 1}});
    CHECK(first.deliver(a, "task:reply"));
    CHECK_FALSE(first.reserve());
    CHECK(first.answer() == boost::json::object{{"source", "task"}, {"task_id", "reply"}});
    CHECK(arclight::workflow::reply_record(a) ==
          boost::json::parse(R"({"status":200,"content_type":"application/json","headers":{},"body":{"x":1}})"));
}
