// ProcessScriptRunner (process_runner.hpp): the pool of script workers, spawning, the round trip
// with deadlines, and killing and replacing workers. The worker side is script_worker.cpp.
#include "core/lua/process_runner.hpp"

#include "core/lua/worker_protocol.hpp"

#include <boost/json.hpp>

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <optional>
#include <thread>

extern char** environ;

namespace arclight::lua {
namespace {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;
using Deadline = std::optional<Clock::time_point>;
using Status = ScriptResult::Status;

struct Worker {
    pid_t pid = -1;
    int to = -1;    ///< request pipe, the parent's end
    int from = -1;  ///< reply pipe, the parent's end
    std::uint64_t requests = 0;
    std::int64_t cpu_ms = 0;
};

void close_fd(int& fd) {
    if (fd >= 0) ::close(fd);
    fd = -1;
}

/// SIGKILL (unless already reaped) and waitpid: no zombie. The wait status, or -1.
int kill_and_reap(Worker& w) {
    int status = -1;
    if (w.pid > 0) {
        ::kill(w.pid, SIGKILL);
        while (::waitpid(w.pid, &status, 0) < 0 && errno == EINTR) {
        }
        w.pid = -1;
    }
    close_fd(w.to);
    close_fd(w.from);
    return status;
}

std::string describe_exit(int status) {
    if (status == -1) return "it was already reaped";
    if (WIFSIGNALED(status)) {
        const int sig = WTERMSIG(status);
        const char* name = ::sigabbrev_np(sig);
        return "signal " + std::to_string(sig) + (name ? std::string(", SIG") + name : std::string());
    }
    if (WIFEXITED(status)) return "exit code " + std::to_string(WEXITSTATUS(status));
    return "status " + std::to_string(status);
}

// A write to a pipe whose reader is gone raises SIGPIPE, which would end the server: blocked in
// this thread for the write, and a SIGPIPE the write raised is taken off the pending set.
class SigpipeGuard {
public:
    SigpipeGuard() {
        sigemptyset(&set_);
        sigaddset(&set_, SIGPIPE);
        ::pthread_sigmask(SIG_BLOCK, &set_, &old_);
        sigset_t pending;
        sigemptyset(&pending);
        ::sigpending(&pending);
        was_pending_ = sigismember(&pending, SIGPIPE) == 1;
    }
    ~SigpipeGuard() {
        if (epipe_ && !was_pending_) {
            const timespec zero{};
            while (::sigtimedwait(&set_, nullptr, &zero) < 0 && errno == EINTR) {
            }
        }
        ::pthread_sigmask(SIG_SETMASK, &old_, nullptr);
    }
    SigpipeGuard(const SigpipeGuard&) = delete;
    SigpipeGuard& operator=(const SigpipeGuard&) = delete;
    void epipe() { epipe_ = true; }

private:
    sigset_t set_{};
    sigset_t old_{};
    bool was_pending_ = false;
    bool epipe_ = false;
};

enum class Io { ok, timeout, closed, too_big };

/// Milliseconds for poll(): -1 without a deadline, 0 when it has passed.
int poll_timeout(const Deadline& d) {
    if (!d) return -1;
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(*d - Clock::now()).count();
    return left <= 0 ? 0 : static_cast<int>(std::min<long long>(left, 1 << 30));
}

/// Waits until `fd` is ready for `events`; false at the deadline.
bool wait_ready(int fd, short events, const Deadline& d) {
    for (;;) {
        const int t = poll_timeout(d);
        pollfd p{fd, events, 0};
        const int r = ::poll(&p, 1, t);
        if (r > 0) return true;  // readable, writable, or hung up: the next read/write tells
        if (r == 0) return false;
        if (errno != EINTR) return true;
    }
}

Io write_all(int fd, std::string_view data, const Deadline& d) {
    SigpipeGuard guard;
    std::size_t off = 0;
    while (off < data.size()) {
        const ssize_t n = ::write(fd, data.data() + off, data.size() - off);
        if (n > 0) {
            off += static_cast<std::size_t>(n);
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && errno == EAGAIN) {
            if (!wait_ready(fd, POLLOUT, d)) return Io::timeout;
        } else {
            if (errno == EPIPE) guard.epipe();
            return Io::closed;
        }
    }
    return Io::ok;
}

Io read_exact(int fd, char* p, std::size_t size, const Deadline& d) {
    std::size_t off = 0;
    while (off < size) {
        const ssize_t n = ::read(fd, p + off, size - off);
        if (n > 0) {
            off += static_cast<std::size_t>(n);
        } else if (n == 0) {
            return Io::closed;
        } else if (errno == EINTR) {
            continue;
        } else if (errno == EAGAIN) {
            if (!wait_ready(fd, POLLIN, d)) return Io::timeout;
        } else {
            return Io::closed;
        }
    }
    return Io::ok;
}

Io read_frame(int fd, std::size_t max, std::string& body, const Deadline& d) {
    unsigned char header[wire::kHeaderBytes];
    if (const Io r = read_exact(fd, reinterpret_cast<char*>(header), sizeof header, d); r != Io::ok) return r;
    const std::size_t n = wire::body_length(header);
    if (n > max) return Io::too_big;
    body.resize(n);
    return read_exact(fd, body.data(), n, d);
}

/// A descriptor at 3 or above, so dup2 onto 0 and 1 in the child never meets one of its own.
bool move_above_stdio(int& fd) {
    if (fd > 2) return true;
    const int moved = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
    ::close(fd);
    fd = moved;
    return moved >= 0;
}

std::string errno_text(const char* what, int err) { return std::string(what) + ": " + std::strerror(err); }

/// Boost.JSON (1.81) writes non-finite doubles, which a caller may put in an input (JSON text cannot
/// carry them), as Infinity, -Infinity and NaN, and cannot parse those back. Outside strings they
/// become 1e99999 (parsed as infinity) and null (NaN has no JSON form).
void make_parseable(std::string& s) {
    if (s.find("Infinity") == std::string::npos && s.find("NaN") == std::string::npos) return;
    std::string out;
    out.reserve(s.size());
    bool in_string = false;
    for (std::size_t i = 0; i < s.size(); ++i) {
        const char c = s[i];
        if (in_string) {
            out += c;
            if (c == '\\' && i + 1 < s.size()) out += s[++i];
            else if (c == '"') in_string = false;
        } else if (c == '"') {
            in_string = true;
            out += c;
        } else if (s.compare(i, 8, "Infinity") == 0) {
            out += "1e99999";
            i += 7;
        } else if (s.compare(i, 3, "NaN") == 0) {
            out += "null";
            i += 2;
        } else {
            out += c;
        }
    }
    s.swap(out);
}

/// The request: the jobs' distinct inputs once each, then the jobs referring to them.
std::string build_request(std::span<const ScriptJob> jobs) {
    std::vector<const json::value*> inputs;
    std::string jobs_text;
    static const json::value null_value;
    for (const ScriptJob& job : jobs) {
        const json::value* in = job.input ? job.input : &null_value;
        std::size_t index = 0;
        while (index < inputs.size() && inputs[index] != in) ++index;
        if (index == inputs.size()) inputs.push_back(in);
        if (!jobs_text.empty()) jobs_text += ',';
        jobs_text += R"({"code":)";
        jobs_text += json::serialize(job.code);
        jobs_text += R"(,"input":)" + std::to_string(index) + R"(,"limits":)";
        jobs_text += json::serialize(wire::limits_to_json(job.limits));
        jobs_text += '}';
    }
    std::string out = R"({"inputs":[)";
    for (std::size_t i = 0; i < inputs.size(); ++i) {
        if (i) out += ',';
        out += json::serialize(*inputs[i]);
    }
    out += R"(],"jobs":[)" + jobs_text + "]}";
    make_parseable(out);
    return out;
}

}  // namespace

struct ProcessScriptRunner::Impl {
    ProcessRunnerOptions opt;
    std::size_t max_workers = 1;
    std::vector<std::string> argv_text;
    std::vector<std::string> env_text;
    ScriptRunner syntax{1};

    mutable std::mutex mu;
    std::condition_variable cv;
    std::vector<std::unique_ptr<Worker>> idle;
    std::vector<pid_t> pids;  // live workers, idle or busy
    std::size_t live = 0;     // live workers plus those being spawned
    Stats stats;
    bool warned = false;

    explicit Impl(ProcessRunnerOptions o) : opt(std::move(o)) {
        max_workers = opt.workers ? opt.workers : std::max(1u, std::thread::hardware_concurrency());
        argv_text.push_back(opt.executable);
        for (const auto& a : opt.args) argv_text.push_back(a);
        argv_text.push_back("--address-space=" + std::to_string(opt.address_space_baseline + 2 * opt.memory_bytes));
        argv_text.push_back("--cpu-seconds=" + std::to_string(opt.cpu_seconds));
        argv_text.push_back("--max-frame=" + std::to_string(opt.max_frame_bytes));
        // A worker gets no environment of the server's (it may hold credentials); only what the
        // loader and the sanitizer runtimes read.
        for (const char* name : {"LD_LIBRARY_PATH", "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"}) {
            if (const char* v = std::getenv(name)) env_text.push_back(std::string(name) + "=" + v);
        }
    }

    std::unique_ptr<Worker> spawn(std::string& error, std::string& seccomp) {
        int req[2] = {-1, -1};
        int rep[2] = {-1, -1};
        auto fail = [&](std::string why) {
            for (int* fd : {&req[0], &req[1], &rep[0], &rep[1]}) close_fd(*fd);
            error = "the script worker could not be started (" + why + ")";
            return nullptr;
        };
        if (::pipe2(req, O_CLOEXEC) != 0 || ::pipe2(rep, O_CLOEXEC) != 0) return fail(errno_text("pipe", errno));
        for (int* fd : {&req[0], &req[1], &rep[0], &rep[1]})
            if (!move_above_stdio(*fd)) return fail(errno_text("fcntl", errno));

        std::vector<char*> argv;
        for (auto& a : argv_text) argv.push_back(a.data());
        argv.push_back(nullptr);
        std::vector<char*> envp;
        for (auto& e : env_text) envp.push_back(e.data());
        envp.push_back(nullptr);

        posix_spawn_file_actions_t fa;
        posix_spawnattr_t attr;
        ::posix_spawn_file_actions_init(&fa);
        ::posix_spawnattr_init(&attr);
        ::posix_spawn_file_actions_adddup2(&fa, req[0], 0);
        ::posix_spawn_file_actions_adddup2(&fa, rep[1], 1);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
        ::posix_spawn_file_actions_addclosefrom_np(&fa, 3);  // the worker closes the rest itself too
#endif
        sigset_t none;
        sigset_t all;
        sigemptyset(&none);
        sigfillset(&all);
        ::posix_spawnattr_setsigmask(&attr, &none);
        ::posix_spawnattr_setsigdefault(&attr, &all);
        ::posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
        auto w = std::make_unique<Worker>();
        const int rc = ::posix_spawn(&w->pid, opt.executable.c_str(), &fa, &attr, argv.data(), envp.data());
        ::posix_spawn_file_actions_destroy(&fa);
        ::posix_spawnattr_destroy(&attr);
        if (rc != 0) {
            w->pid = -1;
            return fail(errno_text(opt.executable.c_str(), rc));
        }
        close_fd(req[0]);
        close_fd(rep[1]);
        w->to = std::exchange(req[1], -1);
        w->from = std::exchange(rep[0], -1);
        ::fcntl(w->to, F_SETFL, ::fcntl(w->to, F_GETFL) | O_NONBLOCK);
        ::fcntl(w->from, F_SETFL, ::fcntl(w->from, F_GETFL) | O_NONBLOCK);

        // The worker says it is ready once its sandbox is in place.
        std::string hello;
        const Io r = read_frame(w->from, 4096, hello, Clock::now() + std::chrono::milliseconds(opt.start_timeout_ms));
        std::string why;
        if (r == Io::ok) {
            try {
                const json::value v = json::parse(hello);
                if (v.at("ready").as_bool()) {
                    seccomp = std::string(v.at("seccomp").as_string());
                    return w;
                }
            } catch (const std::exception&) {
            }
            why = "a malformed greeting";
        } else if (r == Io::timeout) {
            why = "no greeting within " + std::to_string(opt.start_timeout_ms) + " ms";
        } else if (r == Io::too_big) {
            why = "an oversized greeting";
        }
        const int status = kill_and_reap(*w);
        if (why.empty()) why = describe_exit(status);
        error = "the script worker could not be started (" + why + ")";
        return nullptr;
    }

    void forget(pid_t pid) {
        pids.erase(std::remove(pids.begin(), pids.end(), pid), pids.end());
        --live;
        cv.notify_one();
    }

    /// Kills and reaps `w` and frees its place in the pool; the wait status.
    int retire(std::unique_ptr<Worker> w, bool recycled) {
        const pid_t pid = w->pid;
        const int status = kill_and_reap(*w);
        std::lock_guard lk(mu);
        forget(pid);
        ++(recycled ? stats.recycled : stats.killed);
        return status;
    }

    /// An idle worker that died or wrote something unasked is not used again.
    static bool usable(Worker& w) {
        int status = 0;
        if (::waitpid(w.pid, &status, WNOHANG) == w.pid) {
            w.pid = -1;  // reaped: its pid may be reused, never signal it
            return false;
        }
        pollfd p{w.from, POLLIN, 0};
        return ::poll(&p, 1, 0) == 0;
    }

    std::unique_ptr<Worker> acquire(std::string& error) {
        for (;;) {
            std::unique_ptr<Worker> w;
            {
                std::unique_lock lk(mu);
                cv.wait(lk, [&] { return !idle.empty() || live < max_workers; });
                if (!idle.empty()) {
                    w = std::move(idle.back());
                    idle.pop_back();
                } else {
                    ++live;
                }
            }
            if (w) {
                const pid_t pid = w->pid;
                if (usable(*w)) return w;
                kill_and_reap(*w);
                std::lock_guard lk(mu);
                pids.erase(std::remove(pids.begin(), pids.end(), pid), pids.end());
                --live;
                ++stats.killed;
                continue;  // this thread may take the freed place
            }
            std::string seccomp;
            auto fresh = spawn(error, seccomp);
            std::string warning;
            {
                std::lock_guard lk(mu);
                if (!fresh) {
                    --live;
                    cv.notify_one();
                    return nullptr;
                }
                pids.push_back(fresh->pid);
                ++stats.spawned;
                if (seccomp != "installed") {
                    stats.seccomp = false;
                    if (!warned) warning = "script workers run without a seccomp filter (" + seccomp + ")";
                    warned = true;
                }
            }
            if (!warning.empty() && opt.on_warning) opt.on_warning(warning);
            return fresh;
        }
    }

    void release(std::unique_ptr<Worker> w) {
        const bool worn = w->requests >= opt.max_requests ||
                          (opt.cpu_seconds > 0 && w->cpu_ms * 2 >= std::int64_t{opt.cpu_seconds} * 1000);
        if (worn) {
            retire(std::move(w), true);
            return;
        }
        std::lock_guard lk(mu);
        idle.push_back(std::move(w));
        cv.notify_one();
    }
};

ProcessScriptRunner::ProcessScriptRunner(ProcessRunnerOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}

ProcessScriptRunner::~ProcessScriptRunner() {
    std::vector<std::unique_ptr<Worker>> idle;
    {
        std::lock_guard lk(impl_->mu);
        idle.swap(impl_->idle);
    }
    for (auto& w : idle) kill_and_reap(*w);
}

ScriptResult ProcessScriptRunner::run(std::string_view code, const json::value& input, const ScriptLimits& limits) {
    const ScriptJob job{code, &input, limits};
    auto results = run_batch(std::span<const ScriptJob>(&job, 1));
    return std::move(results.front());
}

std::vector<ScriptResult> ProcessScriptRunner::run_batch(std::span<const ScriptJob> jobs) {
    std::vector<ScriptResult> out(jobs.size());
    if (jobs.empty()) return out;
    auto fail_all = [&](Status status, const std::string& why) {
        for (auto& r : out) {
            r = ScriptResult{};
            r.status = status;
            r.error = why;
        }
        return out;
    };
    const ProcessRunnerOptions& opt = impl_->opt;
    const std::string body = build_request(jobs);
    if (body.size() > opt.max_frame_bytes)
        return fail_all(Status::runtime_error, "the scripts' input is too large for a script worker (" +
                                                   std::to_string(body.size()) + " bytes of JSON, at most " +
                                                   std::to_string(opt.max_frame_bytes) + ")");
    const std::string request = wire::frame(body);
    // The jobs run in turn: the batch may take the sum of their wall-clock limits.
    bool bounded = true;
    std::int64_t wall_ms = 0;
    std::int64_t cpu_ms = 0;
    for (const ScriptJob& j : jobs) {
        if (j.limits.wall_ms <= 0) bounded = false;
        wall_ms += std::max(j.limits.wall_ms, 0);
        cpu_ms += j.limits.cpu_ms > 0 ? j.limits.cpu_ms : std::max(j.limits.wall_ms, 0);
    }
    const std::int64_t budget_ms = wall_ms + opt.grace_ms;

    for (int attempt = 0;; ++attempt) {
        std::string error;
        auto w = impl_->acquire(error);
        if (!w) return fail_all(Status::runtime_error, error);
        // A worker near its RLIMIT_CPU is replaced before the batch rather than killed during it.
        if (w->requests > 0 && opt.cpu_seconds > 0 && w->cpu_ms + cpu_ms + 1000 > std::int64_t{opt.cpu_seconds} * 1000) {
            impl_->retire(std::move(w), true);
            continue;
        }
        const Deadline deadline = bounded ? Deadline(Clock::now() + std::chrono::milliseconds(budget_ms)) : std::nullopt;
        Io io = write_all(w->to, request, deadline);
        if (io == Io::closed && attempt == 0) {
            impl_->retire(std::move(w), false);  // gone before reading the request: nothing ran, try a fresh one
            continue;
        }
        std::string reply;
        if (io == Io::ok) io = read_frame(w->from, opt.max_frame_bytes, reply, deadline);
        if (io == Io::timeout) {
            impl_->retire(std::move(w), false);
            return fail_all(Status::wall_limit, "the script worker did not answer within " + std::to_string(budget_ms) +
                                                    " ms (the scripts' wall-clock limits plus " +
                                                    std::to_string(opt.grace_ms) + " ms) and was stopped");
        }
        if (io == Io::closed) {
            const int status = impl_->retire(std::move(w), false);
            return fail_all(Status::runtime_error, "the script worker died (" + describe_exit(status) + ")");
        }
        if (io == Io::too_big) {
            impl_->retire(std::move(w), false);
            return fail_all(Status::runtime_error, "the script worker's reply was too large; the worker was stopped");
        }
        try {
            const json::value v = json::parse(reply, {}, wire::parse_options());
            const auto& o = v.as_object();
            if (const auto* failed = o.if_contains("failed")) {
                const std::string why(failed->as_string());
                impl_->retire(std::move(w), false);
                return fail_all(Status::runtime_error, why);
            }
            const auto& results = o.at("results").as_array();
            const std::int64_t used = o.at("cpu_ms").as_int64();
            bool valid = results.size() == jobs.size();
            for (std::size_t i = 0; valid && i < results.size(); ++i) valid = wire::result_from_json(results[i], out[i]);
            if (valid) {
                ++w->requests;
                w->cpu_ms = used;
                impl_->release(std::move(w));
                return out;
            }
        } catch (const std::exception&) {
        }
        impl_->retire(std::move(w), false);
        return fail_all(Status::runtime_error, "the script worker sent a malformed reply and was stopped");
    }
}

std::string ProcessScriptRunner::check_syntax(std::string_view code) { return impl_->syntax.check_syntax(code); }

std::vector<pid_t> ProcessScriptRunner::worker_pids() const {
    std::lock_guard lk(impl_->mu);
    return impl_->pids;
}

ProcessScriptRunner::Stats ProcessScriptRunner::stats() const {
    std::lock_guard lk(impl_->mu);
    return impl_->stats;
}

}  // namespace arclight::lua
