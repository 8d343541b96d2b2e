// Unit tests of the `agent` task type: config validation (directly and through
// parse_definition), and the assignment policies against a fake AgentRunner / AgentSelector.
#include <doctest/doctest.h>

#include "modules/workflow/agent_task.hpp"
#include "modules/workflow/definition.hpp"
#include "modules/workflow/executors.hpp"
#include "core/json/schema.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>

#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

using namespace arclight;
using namespace arclight::workflow;
namespace json = boost::json;
namespace asio = boost::asio;

namespace {

/// Agents and pools from plain containers. An agent in `gated` waits in run() until release();
/// one in `throws` throws; one in `results` answers that; the others succeed with {"by": agent}.
class FakeRunner final : public AgentRunner {
public:
    struct Seen {
        std::string agent;
        json::value input;
        std::string run_id, task_id;
        int attempt = 0;
        std::int64_t deadline_ms = 0;
    };
    std::set<std::string> agents;
    std::map<std::string, std::vector<std::string>> pools;
    std::set<std::string> gated, throws;
    std::map<std::string, AgentResult> results;

    bool has_agent(std::string_view agent) const override { return agents.count(std::string(agent)) > 0; }
    std::vector<std::string> pool_members(std::string_view pool) const override {
        auto it = pools.find(std::string(pool));
        return it == pools.end() ? std::vector<std::string>{} : it->second;
    }
    asio::awaitable<AgentResult> run(const AgentRequest& request) override {
        std::string agent(request.agent);
        std::shared_ptr<asio::steady_timer> gate;
        {
            std::lock_guard lock(mu_);
            seen_.push_back({agent, request.input, std::string(request.run_id), std::string(request.task_id),
                             request.attempt, request.deadline_ms});
            if (gated.count(agent)) {
                gate = std::make_shared<asio::steady_timer>(request.io, asio::steady_timer::time_point::max());
                gates_[agent].push_back(gate);
            }
        }
        if (gate) {
            auto [ec] = co_await gate->async_wait(asio::as_tuple(asio::use_awaitable));
            (void)ec;  // released by cancel()
        }
        if (throws.count(agent)) throw std::runtime_error("boom from " + agent);
        if (auto it = results.find(agent); it != results.end()) co_return it->second;
        co_return AgentResult{true, json::object{{"by", agent}}, {}, true, 0.25};
    }
    /// Lets every waiting run of `agent` finish.
    void release(const std::string& agent) {
        std::lock_guard lock(mu_);
        for (auto& g : gates_[agent]) g->cancel();
        gates_.erase(agent);
    }
    void release_all() {
        std::lock_guard lock(mu_);
        for (auto& [a, list] : gates_)
            for (auto& g : list) g->cancel();
        gates_.clear();
    }
    std::vector<Seen> seen() const {
        std::lock_guard lock(mu_);
        return seen_;
    }
private:
    mutable std::mutex mu_;
    std::vector<Seen> seen_;
    std::map<std::string, std::vector<std::shared_ptr<asio::steady_timer>>> gates_;
};

class FakeSelector final : public AgentSelector {
public:
    std::optional<std::string> answer;
    bool fail = false;
    int asked = 0;
    std::string last_pool;
    std::vector<std::string> last_candidates;
    json::value last_input;
    std::optional<std::string> choose(std::string_view pool, const std::vector<std::string>& candidates,
                                      const json::value& task_input) override {
        ++asked;
        last_pool = std::string(pool);
        last_candidates = candidates;
        last_input = task_input;
        if (fail) throw std::runtime_error("selector is down");
        return answer;
    }
};

struct Rig {
    FakeRunner runner;
    FakeSelector selector;
    std::shared_ptr<TaskType> type;
    explicit Rig(bool with_selector = true) {
        runner.agents = {"a", "b", "c", "solo"};
        runner.pools = {{"p", {"a", "b", "c"}}, {"duo", {"a", "b"}}, {"empty", {}}};
        type = make_agent_task_type(runner, with_selector ? &selector : nullptr);
    }
};

// One attempt of the task, with the TaskCall living in this coroutine's frame.
asio::awaitable<TaskOutcome> invoke(TaskType& type, json::value config, int attempt) {
    json::value context = json::object();
    auto io = co_await asio::this_coro::executor;
    TaskCall call{"run-1", "task-1", attempt, config, context, 123456, io};
    auto out = co_await type.run(call);
    co_return out;
}

TaskOutcome run_once(TaskType& type, const char* config, int attempt = 1) {
    asio::io_context ioc;
    auto fut = asio::co_spawn(ioc, invoke(type, json::parse(config), attempt), asio::use_future);
    ioc.run();
    return fut.get();
}

/// Starts an attempt on `ioc` without waiting; the outcome lands in `slot`.
void spawn(asio::io_context& ioc, TaskType& type, const char* config, std::optional<TaskOutcome>& slot) {
    asio::co_spawn(ioc, invoke(type, json::parse(config), 1), [&slot](std::exception_ptr e, TaskOutcome out) {
        if (e) out = TaskOutcome::failure("escaped exception");
        slot = std::move(out);
    });
}

/// Runs everything that can run now (waiting runs stay waiting).
void drive(asio::io_context& ioc) {
    ioc.restart();
    ioc.poll();
}

std::vector<FieldError> validate(const TaskType& type, const char* config) {
    std::vector<FieldError> out;
    type.validate(json::parse(config), "/config", out);
    return out;
}

bool has(const std::vector<FieldError>& errors, const std::string& pointer, const std::string& part = {}) {
    for (const auto& e : errors)
        if (e.pointer == pointer && e.message.find(part) != std::string::npos) return true;
    return false;
}

std::string dump(const std::vector<FieldError>& errors) {
    std::string s;
    for (const auto& e : errors) s += e.pointer + ": " + e.message + "\n";
    return s;
}

}  // namespace

TEST_CASE("agent task: type facts and a usable schema") {
    Rig rig;
    CHECK(rig.type->name() == "agent");
    CHECK(rig.type->side_effects());
    CHECK_FALSE(rig.type->synchronous());
    for (auto p : {"fixed", "round_robin", "least_loaded", "learned"}) CHECK(rig.type->description().find(p) != std::string::npos);
    auto schema = rig.type->config_schema();
    std::vector<FieldError> bad_schema;
    jsonschema::check_schema(schema, "", bad_schema);
    CHECK_MESSAGE(bad_schema.empty(), dump(bad_schema));
    CHECK(schema.at("additionalProperties") == json::value(false));
    std::vector<FieldError> e;
    jsonschema::validate_json(schema, json::parse(R"({"pool":"p","policy":"fastest","agent":"","extra":1})"), "/config", e);
    CHECK(has(e, "/config/policy"));
    CHECK(has(e, "/config/agent"));
    CHECK(has(e, "/config/extra"));
}

TEST_CASE("agent task: validate() reports each bad combination at its field") {
    Rig rig;
    const auto& t = *rig.type;
    // Valid: agents and pools need not exist yet; input is anything.
    for (auto ok : {R"({"agent":"later"})", R"({"agent":"a","policy":"fixed"})", R"({"pool":"p"})",
                    R"({"pool":"nobody-yet","policy":"round_robin"})", R"({"pool":"p","policy":"least_loaded"})",
                    R"({"pool":"p","policy":"learned","input":{"q":[1,2]}})", R"({"agent":"{{ input.who }}","input":"x"})"}) {
        auto e = validate(t, ok);
        CHECK_MESSAGE(e.empty(), ok << "\n" << dump(e));
    }
    auto both = validate(t, R"({"agent":"a","pool":"p"})");
    CHECK(has(both, "/config/agent", "not both"));
    CHECK(both.size() == 1);
    auto neither = validate(t, R"({"policy":"round_robin","input":1})");
    CHECK(has(neither, "/config/agent", "is required"));
    CHECK(has(neither, "/config/agent", "pool"));
    CHECK(neither.size() == 1);
    auto bad_policy = validate(t, R"({"pool":"p","policy":"fastest"})");
    CHECK(has(bad_policy, "/config/policy", "least_loaded"));
    CHECK(bad_policy.size() == 1);
    CHECK(has(validate(t, R"({"pool":"p","policy":3})"), "/config/policy"));
    auto fixed_pool = validate(t, R"({"pool":"p","policy":"fixed"})");
    CHECK(has(fixed_pool, "/config/policy", "\"fixed\""));
    CHECK(fixed_pool.size() == 1);
    for (auto pol : {"round_robin", "least_loaded", "learned"}) {
        auto cfg = std::string(R"({"agent":"a","policy":")") + pol + "\"}";
        CHECK(has(validate(t, cfg.c_str()), "/config/policy", "pool"));
    }
    CHECK(has(validate(t, R"({"agent":""})"), "/config/agent", "non-empty"));
    CHECK(has(validate(t, R"({"pool":7})"), "/config/pool", "non-empty"));
    CHECK(has(validate(t, "[]"), "/config"));
}

TEST_CASE("agent task: parse_definition checks agent task configs") {
    Rig rig;
    TaskTypeRegistry types;
    types.add(rig.type);
    std::vector<FieldError> errors;
    auto ok = parse_definition(json::parse(R"({"name":"x","tasks":[
        {"id":"one","type":"agent","config":{"agent":"not-created-yet","input":{"q":"{{ input.q }}"}}},
        {"id":"two","type":"agent","config":{"pool":"p","policy":"learned","input":"{{ tasks.one.output }}"},"depends_on":["one"]},
        {"id":"three","type":"agent","config":{"pool":"p"}}]})"),
                               types, errors);
    CHECK_MESSAGE(ok != nullptr, dump(errors));
    REQUIRE(ok);
    CHECK(ok->tasks[0].impl == rig.type.get());

    errors.clear();
    auto bad = parse_definition(json::parse(R"({"name":"x","tasks":[
        {"id":"both","type":"agent","config":{"agent":"a","pool":"p"}},
        {"id":"neither","type":"agent","config":{"input":1}},
        {"id":"policy","type":"agent","config":{"pool":"p","policy":"fastest"}},
        {"id":"fixedpool","type":"agent","config":{"pool":"p","policy":"fixed"}},
        {"id":"agentrr","type":"agent","config":{"agent":"a","policy":"least_loaded"}},
        {"id":"extra","type":"agent","config":{"agent":"a","model":"m"}},
        {"id":"empty","type":"agent","config":{"pool":""}}]})"),
                                types, errors);
    CHECK(bad == nullptr);
    INFO(dump(errors));
    CHECK(has(errors, "/tasks/0/config/agent", "not both"));
    CHECK(has(errors, "/tasks/1/config/agent", "is required"));
    CHECK(has(errors, "/tasks/2/config/policy"));
    CHECK(has(errors, "/tasks/3/config/policy", "\"fixed\""));
    CHECK(has(errors, "/tasks/4/config/policy", "pool"));
    CHECK(has(errors, "/tasks/5/config/model"));
    CHECK(has(errors, "/tasks/6/config/pool"));
}

TEST_CASE("agent task: fixed runs the named agent and records it and the cost") {
    Rig rig;
    auto out = run_once(*rig.type, R"({"agent":"solo","input":{"q":1}})", 2);
    CHECK(out.ok);
    CHECK(out.output == json::parse(R"({"by":"solo"})"));
    CHECK(out.agent == "solo");
    CHECK(out.cost == doctest::Approx(0.25));
    auto seen = rig.runner.seen();
    REQUIRE(seen.size() == 1);
    CHECK(seen[0].agent == "solo");
    CHECK(seen[0].input == json::parse(R"({"q":1})"));
    CHECK(seen[0].run_id == "run-1");
    CHECK(seen[0].task_id == "task-1");
    CHECK(seen[0].attempt == 2);
    CHECK(seen[0].deadline_ms == 123456);
    // No input: the agent gets null.
    run_once(*rig.type, R"({"agent":"a","policy":"fixed"})");
    REQUIRE(rig.runner.seen().size() == 2);
    CHECK(rig.runner.seen()[1].input.is_null());
}

TEST_CASE("agent task: round_robin cycles the pool's members, across attempts too") {
    Rig rig;
    const char* cfg = R"({"pool":"p","policy":"round_robin","input":"x"})";
    std::vector<std::string> got;
    for (int attempt = 1; attempt <= 4; ++attempt) got.push_back(run_once(*rig.type, cfg, attempt).agent);
    CHECK(got == std::vector<std::string>{"a", "b", "c", "a"});
    // The default policy of a pool is round robin, and it continues where the pool's rotation is.
    CHECK(run_once(*rig.type, R"({"pool":"p"})").agent == "b");
    // Another pool has its own rotation.
    CHECK(run_once(*rig.type, R"({"pool":"duo"})").agent == "a");
    CHECK(run_once(*rig.type, R"({"pool":"p"})", 3).agent == "c");
}

TEST_CASE("agent task: round_robin stays even when runs start on several threads") {
    Rig rig;
    asio::thread_pool pool(2);
    std::vector<std::future<TaskOutcome>> futures;
    for (int i = 0; i < 300; ++i)
        futures.push_back(asio::co_spawn(pool, invoke(*rig.type, json::parse(R"({"pool":"p"})"), 1), asio::use_future));
    std::map<std::string, int> count;
    for (auto& f : futures) ++count[f.get().agent];
    pool.join();
    CHECK(count == std::map<std::string, int>{{"a", 100}, {"b", 100}, {"c", 100}});
}

TEST_CASE("agent task: least_loaded picks an idle agent while others' runs are in flight") {
    Rig rig;
    rig.runner.gated = {"a", "b", "c"};
    const char* cfg = R"({"pool":"p","policy":"least_loaded"})";
    asio::io_context ioc;
    std::optional<TaskOutcome> r1, r2, r3, r4, r5, r6;
    spawn(ioc, *rig.type, cfg, r1);
    drive(ioc);  // a: all idle, the rotation starts at a
    spawn(ioc, *rig.type, cfg, r2);
    drive(ioc);  // b: a is busy
    spawn(ioc, *rig.type, cfg, r3);
    drive(ioc);  // c: a and b are busy
    auto seen = rig.runner.seen();
    REQUIRE(seen.size() == 3);
    CHECK(seen[0].agent == "a");
    CHECK(seen[1].agent == "b");
    CHECK(seen[2].agent == "c");
    CHECK_FALSE(r1);
    CHECK_FALSE(r2);
    CHECK_FALSE(r3);

    rig.runner.release("b");
    drive(ioc);
    REQUIRE(r2);
    CHECK(r2->ok);
    CHECK(r2->agent == "b");
    CHECK_FALSE(r1);
    CHECK_FALSE(r3);
    // Round robin would say a next; b is the one without a run.
    spawn(ioc, *rig.type, cfg, r4);
    drive(ioc);
    REQUIRE(rig.runner.seen().size() == 4);
    CHECK(rig.runner.seen()[3].agent == "b");
    // All busy (one each): the tie goes on in round-robin order (after b: c).
    spawn(ioc, *rig.type, cfg, r5);
    drive(ioc);
    REQUIRE(rig.runner.seen().size() == 5);
    CHECK(rig.runner.seen()[4].agent == "c");

    rig.runner.release_all();
    drive(ioc);
    REQUIRE(r1);
    REQUIRE(r3);
    REQUIRE(r4);
    REQUIRE(r5);
    CHECK(r1->agent == "a");
    CHECK(r3->agent == "c");
    CHECK(r4->agent == "b");
    CHECK(r5->agent == "c");
    // Everything ended, so nobody counts as loaded: the rotation (after c: a) decides.
    rig.runner.gated.clear();
    spawn(ioc, *rig.type, cfg, r6);
    drive(ioc);
    REQUIRE(r6);
    CHECK(r6->agent == "a");
}

TEST_CASE("agent task: least_loaded stops counting a run that threw") {
    Rig rig;
    rig.runner.throws = {"a"};
    const char* cfg = R"({"pool":"duo","policy":"least_loaded"})";
    auto first = run_once(*rig.type, cfg);
    CHECK(first.agent == "a");
    CHECK_FALSE(first.ok);
    CHECK(run_once(*rig.type, cfg).agent == "b");
    // Were a still counted as running, b would be chosen again.
    CHECK(run_once(*rig.type, cfg).agent == "a");
}

TEST_CASE("agent task: learned takes the selector's choice") {
    Rig rig;
    rig.selector.answer = "c";
    auto out = run_once(*rig.type, R"({"pool":"p","policy":"learned","input":{"topic":"billing"}})");
    CHECK(out.ok);
    CHECK(out.agent == "c");
    CHECK(rig.selector.asked == 1);
    CHECK(rig.selector.last_pool == "p");
    CHECK(rig.selector.last_candidates == std::vector<std::string>{"a", "b", "c"});
    CHECK(rig.selector.last_input == json::parse(R"({"topic":"billing"})"));
    CHECK(run_once(*rig.type, R"({"pool":"p","policy":"learned"})", 2).agent == "c");
    CHECK(rig.selector.asked == 2);
    // Other policies never ask it.
    run_once(*rig.type, R"({"pool":"p"})");
    run_once(*rig.type, R"({"pool":"p","policy":"least_loaded"})");
    CHECK(rig.selector.asked == 2);
}

TEST_CASE("agent task: learned falls back to round robin without an opinion") {
    const char* cfg = R"({"pool":"p","policy":"learned"})";
    SUBCASE("no selector (the rl module is absent)") {
        Rig rig(false);
        CHECK(run_once(*rig.type, cfg).agent == "a");
        CHECK(run_once(*rig.type, cfg).agent == "b");
        CHECK(rig.selector.asked == 0);
    }
    SUBCASE("the selector has no opinion") {
        Rig rig;
        CHECK(run_once(*rig.type, cfg).agent == "a");
        CHECK(run_once(*rig.type, cfg).agent == "b");
        CHECK(rig.selector.asked == 2);
    }
    SUBCASE("the selector names an agent outside the pool") {
        Rig rig;
        rig.selector.answer = "solo";  // an agent, but not of pool p
        CHECK(run_once(*rig.type, cfg).agent == "a");
        rig.selector.answer = "stranger";
        CHECK(run_once(*rig.type, cfg).agent == "b");
        CHECK(rig.runner.seen().size() == 2);
        CHECK(rig.runner.seen()[0].agent == "a");
    }
    SUBCASE("the selector throws") {
        Rig rig;
        rig.selector.fail = true;
        auto out = run_once(*rig.type, cfg);
        CHECK(out.ok);
        CHECK(out.agent == "a");
        CHECK(run_once(*rig.type, cfg).agent == "b");
    }
}

TEST_CASE("agent task: an unknown agent or an empty pool fails for good") {
    Rig rig;
    auto ghost = run_once(*rig.type, R"({"agent":"ghost"})");
    CHECK_FALSE(ghost.ok);
    CHECK_FALSE(ghost.retryable);
    CHECK(ghost.error.find("no agent named \"ghost\"") != std::string::npos);
    for (auto cfg : {R"({"pool":"empty"})", R"({"pool":"empty","policy":"least_loaded"})", R"({"pool":"empty","policy":"learned"})"}) {
        auto out = run_once(*rig.type, cfg);
        CHECK_FALSE(out.ok);
        CHECK_FALSE(out.retryable);
        CHECK(out.error.find("pool \"empty\" has no agents") != std::string::npos);
    }
    auto unknown_pool = run_once(*rig.type, R"({"pool":"nope"})");
    CHECK_FALSE(unknown_pool.retryable);
    CHECK(unknown_pool.error.find("pool \"nope\" has no agents") != std::string::npos);
    // A templated name that evaluated to something unusable.
    auto bad = run_once(*rig.type, R"({"agent":42})");
    CHECK_FALSE(bad.ok);
    CHECK_FALSE(bad.retryable);
    CHECK(bad.error.find("/config/agent") != std::string::npos);
    CHECK(rig.runner.seen().empty());
    CHECK(rig.selector.asked == 0);
}

TEST_CASE("agent task: a failed agent run keeps the agent and the cost") {
    Rig rig;
    rig.runner.results["a"] = AgentResult{false, nullptr, "quota exceeded", false, 1.5};
    rig.runner.results["b"] = AgentResult{false, json::object{{"partial", true}}, "model timed out", true, 0.75};
    auto final_failure = run_once(*rig.type, R"({"agent":"a"})");
    CHECK_FALSE(final_failure.ok);
    CHECK_FALSE(final_failure.retryable);
    CHECK(final_failure.error == "quota exceeded");
    CHECK(final_failure.agent == "a");
    CHECK(final_failure.cost == doctest::Approx(1.5));
    auto retryable = run_once(*rig.type, R"({"pool":"duo","policy":"round_robin"})");
    CHECK(retryable.agent == "a");
    auto second = run_once(*rig.type, R"({"pool":"duo","policy":"round_robin"})", 2);
    CHECK_FALSE(second.ok);
    CHECK(second.retryable);
    CHECK(second.error == "model timed out");
    CHECK(second.agent == "b");
    CHECK(second.cost == doctest::Approx(0.75));
    CHECK(second.output == json::parse(R"({"partial":true})"));
}

TEST_CASE("agent task: an exception from the runner is a failure naming the agent") {
    Rig rig;
    rig.runner.throws = {"b"};
    auto out = run_once(*rig.type, R"({"agent":"b"})");
    CHECK_FALSE(out.ok);
    CHECK(out.agent == "b");
    CHECK(out.cost == 0);
    CHECK(out.error.find("boom from b") != std::string::npos);
    CHECK(out.error.find("\"b\"") != std::string::npos);
}

// ---- Through the server: the type exists only when a module offers agents ------------------

#include "core/app/module.hpp"
#include "core/bus/bus.hpp"
#include "tests/support/client.hpp"
#include "tests/support/test_env.hpp"

#include <chrono>
#include <thread>

namespace {

using arclight::test::TestServer;
using arclight::test::http;

// A test-only module standing in for the agents module: offers the FakeRunner.
class FakeAgentsModule final : public Module {
public:
    explicit FakeAgentsModule(ModuleContext& ctx) {
        runner.agents = {"a1", "a2"};
        runner.pools["p"] = {"a1", "a2"};
        ctx.services.provide<AgentRunner>(&runner);
    }
    void register_routes(Router&) override {}
    void start() override {}
    void stop(std::chrono::steady_clock::time_point) override {}
    Health health() const override { return Health::ok(); }
    FakeRunner runner;
};

ModuleDescriptor fake_agents() {
    return {"fakeagents", {}, "Test-only agents.", {}, [](ModuleContext& ctx) { return std::make_unique<FakeAgentsModule>(ctx); }};
}

std::map<std::string, std::string> json_headers(const TestServer& s) {
    auto h = s.admin();
    h["Content-Type"] = "application/json";
    return h;
}

json::object wait_run(const TestServer& s, const std::string& id) {
    json::object r;
    for (int i = 0; i < 500; ++i) {
        r = http(s.port(), "GET", "/api/v1/runs/" + id, {}, s.admin()).json().as_object();
        std::string st(r.at("status").as_string());
        if (st == "succeeded" || st == "failed" || st == "cancelled") return r;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    FAIL("run did not finish: " << json::serialize(r));
    return r;
}

}  // namespace

TEST_CASE("agent task: absent without an agents module") {
    TestServer s;
    auto types = http(s.port(), "GET", "/api/v1/task-types", {}, s.admin());
    REQUIRE(types.status == 200);
    auto list = types.json();
    for (const auto& t : list.at("items").as_array()) CHECK(t.at("name").as_string() != "agent");
    auto r = http(s.port(), "POST", "/api/v1/workflows/validate",
                  R"({"name":"a","tasks":[{"id":"t","type":"agent","config":{"pool":"p"}}]})", json_headers(s));
    CHECK(r.status == 422);
    CHECK(r.json().at("errors").at(0).at("pointer").as_string() == "/tasks/0/type");
}

TEST_CASE("agent task: runs through the engine and records agent, outcome, latency and cost") {
    TestServer s({}, {fake_agents()});
    auto types = http(s.port(), "GET", "/api/v1/task-types", {}, s.admin());
    CHECK(types.body.find("\"agent\"") != std::string::npos);

    std::mutex m;
    std::vector<json::object> events;
    auto sub = s.app().bus().subscribe("workflow.task.*", [&](const arclight::EventPtr& e) {
        std::lock_guard lk(m);
        if (e->data.contains("agent")) events.push_back(e->data);
    });

    auto created = http(s.port(), "POST", "/api/v1/workflows",
                        R"({"name":"agents","tasks":[
                              {"id":"pick","type":"agent","retry":{"max_attempts":2,"backoff_ms":10},
                               "config":{"pool":"p","policy":"round_robin","input":{"q":"{{ input.q }}"}}}]})",
                        json_headers(s));
    REQUIRE(created.status == 201);
    std::string wf(created.json().at("id").as_string());
    auto start = [&](const std::string& q) {
        auto r = http(s.port(), "POST", "/api/v1/workflows/" + wf + "/runs", R"({"input":{"q":")" + q + R"("}})", json_headers(s));
        REQUIRE(r.status == 201);
        return std::string(r.json().at("id").as_string());
    };
    auto r1 = wait_run(s, start("one"));
    auto r2 = wait_run(s, start("two"));
    const auto& t1 = r1.at("tasks").at(0).as_object();
    const auto& t2 = r2.at("tasks").at(0).as_object();
    CHECK(r1.at("status").as_string() == "succeeded");
    CHECK(t1.at("agent").as_string() == "a1");  // round robin over the pool
    CHECK(t2.at("agent").as_string() == "a2");
    CHECK(t1.at("cost").to_number<double>() == doctest::Approx(0.25));
    CHECK(t1.at("output").at("by").as_string() == "a1");

    // a1 fails (retryable, costs 0.1): the retry goes to the next member, both costs count.
    auto& runner = dynamic_cast<FakeRunner&>(s.app().services().require<AgentRunner>());
    runner.results["a1"] = AgentResult{false, nullptr, "overloaded", true, 0.1};
    auto r3 = wait_run(s, start("three"));
    const auto& t3 = r3.at("tasks").at(0).as_object();
    CHECK(r3.at("status").as_string() == "succeeded");
    CHECK(t3.at("attempts").as_int64() == 2);
    CHECK(t3.at("agent").as_string() == "a2");
    CHECK(t3.at("cost").to_number<double>() == doctest::Approx(0.35));
    auto seen = runner.seen();
    REQUIRE(seen.size() == 4);
    CHECK(seen[0].input.at("q").as_string() == "one");

    // The per-task record on the bus, for the rl module.
    for (int i = 0; i < 100; ++i) {
        {
            std::lock_guard lk(m);
            if (events.size() >= 3) break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    std::lock_guard lk(m);
    bool found = false;
    for (const auto& e : events) {
        if (e.at("status").as_string() != "succeeded" || e.at("agent").as_string() != "a2") continue;
        CHECK(e.contains("latency_ms"));
        CHECK(e.at("cost").is_number());
        found = true;
    }
    CHECK(found);
}
