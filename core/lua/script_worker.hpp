#pragma once
// The script worker: the process side of ProcessScriptRunner (process_runner.hpp). A binary that
// can serve as a worker (arclight, the unit tests) checks argv[1] == "script-worker" first thing in
// main(), before reading any configuration or starting a thread, and hands over to
// script_worker_main.
//
// Before reading a request the worker closes every file descriptor but its two pipes (stderr too:
// a worker logs nothing), sets its rlimits (RLIMIT_AS, RLIMIT_CPU, RLIMIT_NOFILE, RLIMIT_NPROC 0,
// RLIMIT_FSIZE 0, RLIMIT_CORE 0), sets no_new_privs and installs a seccomp filter allowing only
// what running a script needs (script_worker.cpp lists it). Then it says it is ready and answers
// one batch per request until its input ends. It never returns: it ends with _exit, so no exit
// handler runs after the sandbox is in place.
#include <cstddef>

namespace arclight::lua {

struct WorkerLimits {
    std::size_t address_space_bytes = 0;  ///< RLIMIT_AS; 0: none (and never under AddressSanitizer)
    int cpu_seconds = 0;                  ///< RLIMIT_CPU (soft; hard one second more); 0: none
    std::size_t max_frame_bytes = 0;      ///< largest request accepted; 0: the protocol's default
};

/// Serves requests read from `in_fd`, answers on `out_fd`. Never returns.
[[noreturn]] void run_script_worker(int in_fd, int out_fd, const WorkerLimits& limits);

/// argv: <exe> script-worker [--address-space=BYTES] [--cpu-seconds=S] [--max-frame=BYTES]; the
/// pipes are stdin and stdout. Never returns.
[[noreturn]] void script_worker_main(int argc, char** argv);

}  // namespace arclight::lua
