#include "modules/workflow/agent_task.hpp"

#include "core/log/log.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <utility>

namespace arclight::workflow {
namespace json = boost::json;
namespace asio = boost::asio;

namespace {

enum class Policy { fixed, round_robin, least_loaded, learned };

std::optional<Policy> policy_from(std::string_view s) {
    if (s == "fixed") return Policy::fixed;
    if (s == "round_robin") return Policy::round_robin;
    if (s == "least_loaded") return Policy::least_loaded;
    if (s == "learned") return Policy::learned;
    return std::nullopt;
}

/// What a config asks for: one named agent (fixed) or a pool and a policy.
struct Plan {
    Policy policy = Policy::round_robin;
    std::string agent;
    std::string pool;
};

/// Reads a config (as written at save time, or evaluated at run time), appending every problem
/// with a pointer under `base`. The returned plan is meaningful only when nothing was appended.
Plan read_config(const json::value& config, const std::string& base, std::vector<FieldError>& out) {
    Plan plan;
    if (!config.is_object()) {
        out.push_back({base, "must be an object"});
        return plan;
    }
    const auto& o = config.as_object();
    auto non_empty_string = [&](const char* key, std::string& into) {
        const auto* v = o.if_contains(key);
        if (!v) return false;
        if (!v->is_string() || v->as_string().empty())
            out.push_back({base + "/" + key, std::string("must be a non-empty string: the ") +
                                                 (std::string_view(key) == "agent" ? "agent's id or name" : "pool's name")});
        else
            into = std::string(v->as_string());
        return true;
    };
    bool has_agent = non_empty_string("agent", plan.agent);
    bool has_pool = non_empty_string("pool", plan.pool);
    if (has_agent && has_pool)
        out.push_back({base + "/agent", "give either \"agent\" (one named agent) or \"pool\" (an agent chosen from a "
                                        "pool's members), not both"});
    if (!has_agent && !has_pool)
        out.push_back({base + "/agent", "is required: the agent to run, or instead \"pool\" to choose one of a "
                                        "pool's agents"});

    std::optional<Policy> policy;
    if (const auto* p = o.if_contains("policy")) {
        if (p->is_string()) policy = policy_from(p->as_string());
        if (!policy)
            out.push_back({base + "/policy",
                           "must be one of: \"fixed\", \"round_robin\", \"least_loaded\", \"learned\""});
    }
    if (has_agent && !has_pool) {
        if (policy && *policy != Policy::fixed)
            out.push_back({base + "/policy", "must be \"fixed\" (or left out) with \"agent\"; round_robin, least_loaded "
                                             "and learned choose among the agents of a \"pool\""});
        plan.policy = Policy::fixed;
    } else if (has_pool && !has_agent) {
        if (policy && *policy == Policy::fixed)
            out.push_back({base + "/policy", "\"fixed\" runs the one agent named in \"agent\"; with \"pool\" use "
                                             "round_robin (the default), least_loaded or learned"});
        plan.policy = policy.value_or(Policy::round_robin);
    }
    return plan;
}

class AgentTaskType final : public TaskType {
public:
    AgentTaskType(AgentRunner& runner, AgentSelector* selector) : runner_(runner), selector_(selector) {}

    std::string name() const override { return "agent"; }
    std::string description() const override {
        return "Runs an agent on `input` (templated). Either `agent` names it (policy fixed) or `pool` names a "
               "pool and `policy` chooses the member: round_robin (default), least_loaded (fewest runs in "
               "flight) or learned (the rl module's choice; round robin without one). Output: the agent's "
               "output; the chosen agent and the cost are recorded with the task.";
    }
    json::value config_schema() const override {
        // "Exactly one of agent/pool" and the policy/agent combinations are checked by validate(),
        // which gives pointed messages (a oneOf here would only say "matches none").
        return json::parse(R"j({"type":"object","additionalProperties":false,
          "properties":{"agent":{"type":"string","minLength":1,"description":"The agent to run (id or name); policy fixed. Not with pool."},
                        "pool":{"type":"string","minLength":1,"description":"A pool whose members the policy chooses from. Not with agent."},
                        "policy":{"type":"string","enum":["fixed","round_robin","least_loaded","learned"],
                                  "description":"fixed (with agent; the default there), or with pool: round_robin (default), least_loaded, learned"},
                        "input":{"description":"What the agent is given (any JSON; {{ }} expressions are evaluated); default null"}}})j");
    }
    void validate(const json::value& config, const std::string& base, std::vector<FieldError>& out) const override {
        read_config(config, base, out);  // the agent's or pool's existence is a run-time matter
    }
    bool side_effects() const override { return true; }
    bool synchronous() const override { return false; }

    asio::awaitable<TaskOutcome> run(const TaskCall& call) override {
        std::vector<FieldError> problems;
        Plan plan = read_config(call.config, "/config", problems);
        if (!problems.empty())
            co_return TaskOutcome::failure("agent task: " + problems.front().pointer + " " + problems.front().message, false);
        static const json::value null_input;
        const auto* in = call.config.as_object().if_contains("input");
        const json::value& input = in ? *in : null_input;

        std::string agent;
        if (plan.policy == Policy::fixed) {
            if (!runner_.has_agent(plan.agent)) co_return TaskOutcome::failure("no agent named \"" + plan.agent + "\"", false);
            agent = start(plan, {}, std::nullopt);
        } else {
            auto members = runner_.pool_members(plan.pool);
            if (members.empty()) co_return TaskOutcome::failure("pool \"" + plan.pool + "\" has no agents", false);
            std::optional<std::string> preferred;
            if (plan.policy == Policy::learned) preferred = ask_selector(plan.pool, members, input);
            agent = start(plan, members, preferred);
        }
        InFlight guard{*this, agent};  // counted until the run ends, however it ends

        AgentRequest request{agent, input, call.run_id, call.task_id, call.attempt, call.deadline_ms, call.io};
        AgentResult result;
        std::optional<std::string> thrown;
        try {
            result = co_await runner_.run(request);
        } catch (const std::exception& e) {
            thrown = e.what();
        } catch (...) {
            thrown = "unknown error";
        }
        TaskOutcome out;
        if (thrown) {
            out = TaskOutcome::failure("agent \"" + agent + "\" failed: " + *thrown);
        } else if (result.ok) {
            out = TaskOutcome::success(std::move(result.output));
        } else {
            out = TaskOutcome::failure(result.error.empty() ? "agent \"" + agent + "\" failed" : std::move(result.error),
                                       result.retryable);
            out.output = std::move(result.output);  // what the agent produced before failing, if anything
        }
        out.agent = agent;
        out.cost = result.cost;
        co_return out;
    }

private:
    struct InFlight {
        AgentTaskType& self;
        std::string agent;
        InFlight(AgentTaskType& s, std::string a) : self(s), agent(std::move(a)) {}
        InFlight(const InFlight&) = delete;
        InFlight& operator=(const InFlight&) = delete;
        ~InFlight() { self.finished(agent); }
    };

    // The selector's choice when it is one of the members; otherwise nullopt (round robin).
    std::optional<std::string> ask_selector(const std::string& pool, const std::vector<std::string>& members,
                                            const json::value& input) {
        if (!selector_) return std::nullopt;
        std::optional<std::string> choice;
        try {
            choice = selector_->choose(pool, members, input);
        } catch (const std::exception& e) {
            log::warn("workflow", "agent selector failed for pool {}: {}; choosing round robin", pool, e.what());
            return std::nullopt;
        } catch (...) {
            log::warn("workflow", "agent selector failed for pool {}; choosing round robin", pool);
            return std::nullopt;
        }
        if (choice && std::find(members.begin(), members.end(), *choice) == members.end()) {
            log::debug("workflow", "agent selector chose {}, not a member of pool {}; choosing round robin", *choice, pool);
            return std::nullopt;
        }
        return choice;
    }

    // Chooses the agent and counts its run as in flight, under one lock (concurrent runs on other
    // threads see each other's choices).
    std::string start(const Plan& plan, const std::vector<std::string>& members, const std::optional<std::string>& preferred) {
        std::lock_guard lock(mu_);
        std::string chosen;
        if (plan.policy == Policy::fixed) {
            chosen = plan.agent;
        } else if (preferred) {
            chosen = *preferred;
        } else {
            auto& cursor = cursors_[plan.pool];
            std::size_t n = members.size();
            std::size_t pick = static_cast<std::size_t>(cursor % n);
            if (plan.policy == Policy::least_loaded) {
                // The fewest in flight; ties go to the first in round-robin order from the cursor.
                std::size_t from = pick;
                int best = std::numeric_limits<int>::max();
                for (std::size_t i = 0; i < n; ++i) {
                    std::size_t k = (from + i) % n;
                    auto it = in_flight_.find(members[k]);
                    int load = it == in_flight_.end() ? 0 : it->second;
                    if (load < best) {
                        best = load;
                        pick = k;
                    }
                }
            }
            cursor = pick + 1;
            chosen = members[pick];
        }
        ++in_flight_[chosen];
        return chosen;
    }

    void finished(const std::string& agent) {
        std::lock_guard lock(mu_);
        auto it = in_flight_.find(agent);
        if (it != in_flight_.end() && --it->second <= 0) in_flight_.erase(it);
    }

    AgentRunner& runner_;
    AgentSelector* selector_;
    std::mutex mu_;
    std::map<std::string, std::uint64_t, std::less<>> cursors_;  ///< per pool: where round robin goes next
    std::map<std::string, int, std::less<>> in_flight_;          ///< per agent: runs started here, not ended
};

}  // namespace

std::shared_ptr<TaskType> make_agent_task_type(AgentRunner& runner, AgentSelector* selector) {
    return std::make_shared<AgentTaskType>(runner, selector);
}

}  // namespace arclight::workflow
