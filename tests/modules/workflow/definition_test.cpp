// Unit tests of workflow definition parsing: compiled form and error pointers.
#include <doctest/doctest.h>

#include "modules/workflow/definition.hpp"
#include "modules/workflow/definition_errors.hpp"
#include "modules/workflow/executors.hpp"

#include "tests/modules/workflow/probe.hpp"

#include <boost/json.hpp>

using namespace arclight;
using namespace arclight::workflow;
namespace json = boost::json;

namespace {

constexpr const char* kProbeSchema =
    R"({"type":"object","required":["n"],"properties":{"n":{"type":"integer","minimum":1}},"additionalProperties":false})";

std::vector<FieldError> errors_of(const char* doc) {
    TaskTypeRegistry types;
    types.add(std::make_shared<test::ProbeType>(kProbeSchema));
    std::vector<FieldError> errors;
    auto def = parse_definition(json::parse(doc), types, errors);
    CHECK((def == nullptr) == !errors.empty());
    return errors;
}

bool has(const std::vector<FieldError>& errors, const std::string& pointer, const std::string& part = {}) {
    for (const auto& e : errors)
        if (e.pointer == pointer && e.message.find(part) != std::string::npos) return true;
    return false;
}

}  // namespace

TEST_CASE("definition: a valid document compiles with resolved dependencies") {
    TaskTypeRegistry types;
    types.add(std::make_shared<test::ProbeType>(kProbeSchema));
    std::vector<FieldError> errors;
    auto def = parse_definition(json::parse(R"({"name":"x","execution_data":"errors","timeout_ms":5000,
        "triggers":[{"type":"webhook","path":"/a/b","respond":"sync"},{"type":"cron","schedule":"*/5 * * * *"}],
        "tasks":[{"id":"a","type":"probe","config":{"n":1}},
                 {"id":"b","type":"probe","config":{"n":2},"depends_on":["a"],"when":"{{ tasks.a.output }}",
                  "retry":{"max_attempts":3,"backoff_ms":10},"on_error":"c"},
                 {"id":"c","type":"delay","config":{"seconds":1},"depends_on":["b"]}]})"),
                                types, errors);
    REQUIRE(def);
    CHECK(errors.empty());
    CHECK(def->execution_data == ExecutionData::errors);
    CHECK(def->timeout_ms == 5000);
    REQUIRE(def->triggers.size() == 2);
    CHECK(def->triggers[0].method == "POST");
    CHECK(def->triggers[0].path == "a/b");
    CHECK(def->triggers[0].respond_sync);
    CHECK(def->tasks[1].deps == std::vector<int>{0});
    CHECK(def->tasks[0].dependents == std::vector<int>{1});
    CHECK(def->tasks[2].handles_errors_of == 1);
    CHECK(def->tasks[1].retry.max_attempts == 3);
    CHECK(def->tasks[1].when.has_value());
}

TEST_CASE("definition: errors carry JSON pointers") {
    CHECK(has(errors_of("[]"), ""));
    CHECK(has(errors_of(R"({"tasks":[]})"), "/name"));
    CHECK(has(errors_of(R"({"name":"x"})"), "/tasks"));
    auto e = errors_of(R"({"name":"x","execution_data":"some","tasks":[
        {"id":"1bad","type":"probe","config":{"n":1}},
        {"id":"a","type":"probe","config":{"n":0,"extra":1}},
        {"id":"a","type":"probe","config":{"n":1}},
        {"id":"b","type":"probe","config":{"n":1},"depends_on":["b","zzz"],"on_error":"nobody","join":"some"},
        {"id":"c","type":"probe","config":{"n":"{{ oops( }}"},"when":"{{ a }} and {{ b }}","timeout_ms":-1}]})");
    CHECK(has(e, "/execution_data"));
    CHECK(has(e, "/tasks/0/id"));
    CHECK(has(e, "/tasks/1/config/n", ">="));
    CHECK(has(e, "/tasks/1/config/extra"));
    CHECK(has(e, "/tasks/2/id", "duplicate"));
    CHECK(has(e, "/tasks/3/depends_on/0", "itself"));
    CHECK(has(e, "/tasks/3/depends_on/1", "no task `zzz`"));
    CHECK(has(e, "/tasks/3/on_error"));
    CHECK(has(e, "/tasks/3/join"));
    CHECK(has(e, "/tasks/4/config/n"));  // the string with the broken expression
    CHECK(has(e, "/tasks/4/when"));
    CHECK(has(e, "/tasks/4/timeout_ms"));
    auto t = errors_of(R"({"name":"x","triggers":[{"type":"nope"},{"type":"webhook","method":"TRACE","path":"ok"},
        {"type":"event","topic":"workflow.run.succeeded"},{"type":"event","topic":"a..b"},{"type":"cron","schedule":"* *"},
        {"type":"webhook","path":"dup"},{"type":"webhook","path":"dup"}],"tasks":[{"id":"a","type":"probe","config":{"n":1}}]})");
    CHECK(has(t, "/triggers/0/type"));
    CHECK(has(t, "/triggers/1/method"));
    CHECK(has(t, "/triggers/2/topic"));
    CHECK(has(t, "/triggers/3/topic"));
    CHECK(has(t, "/triggers/4/schedule"));
    CHECK(has(t, "/triggers/6/path", "twice"));
    auto m = errors_of(R"({"name":"x","tasks":[{"id":"m","type":"map","config":{"items":[1],"task":{"type":"delay","config":{}}}}]})");
    CHECK(has(m, "/tasks/0/config/task/type", "map"));
}

TEST_CASE("definition: errors say where in the definition's own words, with did-you-mean") {
    auto message = [](const std::vector<FieldError>& errors, const std::string& pointer) {
        for (const auto& e : errors)
            if (e.pointer == pointer) return e.message;
        std::string all;
        for (const auto& e : errors) all += e.pointer + ": " + e.message + "\n";
        FAIL_CHECK("no error at " << pointer << "; errors:\n" << all);
        return std::string();
    };
    auto e = errors_of(R"({"name":"x","triggers":[{"type":"manual"},{"type":"webhook","method":"TRACE","path":"ok"}],
        "tasks":[{"id":"add","type":"probe","config":{"n":1}},
                 {"id":"reply","type":"probe","config":{"n":1},"depends_on":["ad"]},
                 {"id":"typo","type":"prob","config":{"n":1},"depends_on":["nothing_like_it"],"retry":{"max_attempts":0}},
                 {"id":"untyped","depends_on":["add"],"join":"most"},
                 {"id":"refs","type":"probe","config":{"n":{"deep":["{{ tasks.ad.output }}"]}},"when":"{{ inptu.ok }}"},
                 {"id":"bad_expr","type":"probe","config":{"n":{"list":[1,"{{ oops( }}"]}}},
                 {"id":"fallback","type":"probe","config":{"n":1},"depends_on":["add"],"on_error":"adx"}]})");
    CHECK(message(e, "/tasks/1/depends_on/0") == "task `reply` → depends_on: no task `ad` (did you mean `add`?)");
    // An unknown type does not hide the task's other errors; a suggestion only when one is near.
    CHECK(message(e, "/tasks/2/type").rfind("task `typo` → type: unknown task type \"prob\" (did you mean `probe`?)", 0) == 0);
    CHECK(message(e, "/tasks/2/depends_on/0") == "task `typo` → depends_on: no task `nothing_like_it`");
    CHECK(has(e, "/tasks/2/retry/max_attempts", "task `typo` → retry → max_attempts: must be between 1 and 100"));
    // A task without a type still gets its other errors.
    CHECK(has(e, "/tasks/3/type", "task `untyped` → type: is required"));
    CHECK(has(e, "/tasks/3/join", "task `untyped` → join:"));
    // Expression errors point at the string itself.
    CHECK(message(e, "/tasks/4/config/n/deep/0") ==
          "task `refs` → config → n → deep[0]: reads tasks.ad, but there is no task `ad` (did you mean `add`?)");
    CHECK(has(e, "/tasks/4/when", "task `refs` → when: unknown name `inptu` in an expression (did you mean `input`?)"));
    CHECK(has(e, "/tasks/5/config/n/list/1", "task `bad_expr` → config → n → list[1]: "));
    CHECK(has(e, "/tasks/6/on_error", "(did you mean `add`?)"));
    CHECK(message(e, "/triggers/1/method").rfind("trigger 2 (webhook) → method: ", 0) == 0);
    // Places by themselves.
    auto doc = json::parse(R"({"tasks":[{"type":"x"},{"id":"a/b~c"}],"triggers":[{}]})");
    CHECK(error_place(doc, "") == "the definition");
    CHECK(error_place(doc, "/name") == "name");
    CHECK(error_place(doc, "/tasks/0/config/items/2/x") == "task 1 (no id) → config → items[2] → x");
    CHECK(error_place(doc, "/tasks/1/retry") == "task `a/b~c` → retry");
    CHECK(error_place(doc, "/tasks/7") == "task 8 (no id)");
    CHECK(error_place(doc, "/triggers/0/path") == "trigger 1 → path");
    CHECK(error_place(doc, "/input_schema/properties/a~1b") == "input_schema → properties → a/b");
}

TEST_CASE("definition: retry back-off grows, is capped and jittered") {
    RetryPolicy p;
    p.backoff_ms = 100;
    p.factor = 2;
    p.max_backoff_ms = 350;
    p.jitter = false;
    CHECK(p.delay_before(2, 0.5) == 100);
    CHECK(p.delay_before(3, 0.5) == 200);
    CHECK(p.delay_before(4, 0.5) == 350);
    p.jitter = true;
    CHECK(p.delay_before(3, 0.0) == 100);
    CHECK(p.delay_before(3, 1.0) == 200);
}
