#pragma once
// Process isolation for script tasks (workflow.script_isolation = "process"): a ScriptExecutor
// whose scripts run in a pool of sandboxed worker processes (script_worker.hpp), for operators
// who run scripts they do not trust. Inside a worker a script meets the same Lua sandbox and
// limits as in process (ScriptRunner); around it the worker has OS limits (RLIMIT_AS, RLIMIT_CPU,
// no descriptors but its two pipes, no new files or processes) and a seccomp filter, so a script
// that escaped Lua would still find neither the server's memory nor a system call worth making.
//
// A batch (run_batch: one run's ready scripts) is one round trip: one request frame, one reply
// frame (worker_protocol.hpp). Workers are spawned (posix_spawn of `executable` + `args`) when
// needed, up to `workers`; a caller waits for an idle one. The parent waits for the reply until
// the sum of the jobs' wall_ms plus `grace_ms` (no deadline when a job has no wall limit). A
// worker that misses it, dies, or sends a malformed or oversized reply is killed (SIGKILL) and
// reaped, and its jobs fail (wall_limit when it timed out, runtime_error naming the signal when it
// died); the next call gets a fresh worker. A worker is also replaced after `max_requests`
// requests or half its RLIMIT_CPU. Thread-safe; never throws for anything a script does.
#include "core/lua/sandbox.hpp"

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace arclight::lua {

struct ProcessRunnerOptions {
    /// The worker binary and its arguments: a binary that runs script_worker_main for these.
    std::string executable = "/proc/self/exe";
    std::vector<std::string> args{"script-worker"};
    std::size_t workers = 0;                          ///< pool size; 0: one per hardware thread
    /// The largest Lua heap a job asks for (ScriptLimits::memory_bytes): a worker's RLIMIT_AS is
    /// address_space_baseline + 2 x this (not set under AddressSanitizer).
    std::size_t memory_bytes = std::size_t{32} << 20;
    std::size_t address_space_baseline = std::size_t{512} << 20;
    int cpu_seconds = 300;                            ///< a worker's RLIMIT_CPU (a backstop)
    std::uint64_t max_requests = 10000;               ///< a worker is replaced after this many
    int grace_ms = 250;                               ///< added to the jobs' wall_ms for the reply
    int start_timeout_ms = 10000;                     ///< for a new worker's "ready"
    std::size_t max_frame_bytes = std::size_t{256} << 20;  ///< largest request or reply
    /// Called once per runner, from a calling thread, when a worker could not install its seccomp
    /// filter (the kernel has none, or no support for this architecture); it runs without.
    std::function<void(const std::string&)> on_warning;
};

class ProcessScriptRunner final : public ScriptExecutor {
public:
    explicit ProcessScriptRunner(ProcessRunnerOptions options = {});
    ~ProcessScriptRunner() override;  ///< kills and reaps every worker (no call may be running)
    ProcessScriptRunner(const ProcessScriptRunner&) = delete;
    ProcessScriptRunner& operator=(const ProcessScriptRunner&) = delete;

    ScriptResult run(std::string_view code, const boost::json::value& input, const ScriptLimits& limits) override;
    std::vector<ScriptResult> run_batch(std::span<const ScriptJob> jobs) override;
    /// Compiles in this process (compiling runs nothing of the script).
    std::string check_syntax(std::string_view code) override;

    /// The live workers (idle or busy), for tests and diagnostics.
    std::vector<pid_t> worker_pids() const;
    struct Stats {
        std::uint64_t spawned = 0;   ///< workers started
        std::uint64_t killed = 0;    ///< workers killed for a timeout, a death or a bad reply
        std::uint64_t recycled = 0;  ///< workers replaced after max_requests or their CPU share
        bool seccomp = true;         ///< false once a worker reported it runs without
    };
    Stats stats() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace arclight::lua
