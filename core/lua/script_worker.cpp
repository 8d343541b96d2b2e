// The script worker process (script_worker.hpp): its sandbox (descriptors, rlimits, no_new_privs,
// seccomp) and its request loop.
#include "core/lua/script_worker.hpp"

#include "core/lua/sandbox.hpp"
#include "core/lua/worker_protocol.hpp"

#include <boost/json.hpp>

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <string_view>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#define ARCLIGHT_WORKER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ARCLIGHT_WORKER_ASAN 1
#endif
#endif

namespace arclight::lua {
namespace {

namespace json = boost::json;

// ------------------------------------------------------------------------------------------------
// Descriptors and rlimits
// ------------------------------------------------------------------------------------------------

void close_range_or_loop(unsigned first, unsigned last) {
    if (first > last) return;
#ifdef SYS_close_range
    if (::syscall(SYS_close_range, first, last, 0) == 0) return;
#endif
    const unsigned cap = last > 65535 ? 65535 : last;  // kernels before 5.9: close one by one
    for (unsigned fd = first; fd <= cap; ++fd) ::close(static_cast<int>(fd));
}

// Everything but the two pipes, stderr included.
void close_other_fds(int in_fd, int out_fd) {
    const unsigned lo = static_cast<unsigned>(in_fd < out_fd ? in_fd : out_fd);
    const unsigned hi = static_cast<unsigned>(in_fd < out_fd ? out_fd : in_fd);
    if (lo > 0) close_range_or_loop(0, lo - 1);
    if (hi > lo + 1) close_range_or_loop(lo + 1, hi - 1);
    close_range_or_loop(hi + 1, ~0U);
}

void set_limit(int resource, rlim_t soft, rlim_t hard) {
    rlimit r{soft, hard};
    ::setrlimit(resource, &r);  // lowering never fails for lack of privilege
}

void set_rlimits(const WorkerLimits& l, int in_fd, int out_fd) {
#ifndef ARCLIGHT_WORKER_ASAN
    // AddressSanitizer reserves terabytes of address space (shadow memory): RLIMIT_AS would stop
    // every allocation, so an ASan build relies on the Lua allocator cap alone.
    if (l.address_space_bytes > 0) set_limit(RLIMIT_AS, l.address_space_bytes, l.address_space_bytes);
#endif
    if (l.cpu_seconds > 0) set_limit(RLIMIT_CPU, static_cast<rlim_t>(l.cpu_seconds), static_cast<rlim_t>(l.cpu_seconds) + 1);
    const int top = in_fd > out_fd ? in_fd : out_fd;
    set_limit(RLIMIT_NOFILE, static_cast<rlim_t>(top) + 1, static_cast<rlim_t>(top) + 1);
    set_limit(RLIMIT_NPROC, 0, 0);
    set_limit(RLIMIT_FSIZE, 0, 0);
    set_limit(RLIMIT_CORE, 0, 0);
}

// ------------------------------------------------------------------------------------------------
// seccomp: an allow-list; anything else kills the worker (SECCOMP_RET_KILL_PROCESS).
// ------------------------------------------------------------------------------------------------

#if defined(__x86_64__)
constexpr std::uint32_t kAuditArch = AUDIT_ARCH_X86_64;
#define ARCLIGHT_WORKER_SECCOMP 1
#elif defined(__aarch64__) && defined(__AARCH64EL__)
constexpr std::uint32_t kAuditArch = AUDIT_ARCH_AARCH64;
#define ARCLIGHT_WORKER_SECCOMP 1
#endif

#ifdef ARCLIGHT_WORKER_SECCOMP

#ifndef SECCOMP_RET_KILL_PROCESS
#define SECCOMP_RET_KILL_PROCESS 0x80000000U
#endif

class Filter {
public:
    Filter() {
        // The architecture first: a syscall number means something else under another ABI.
        f_.push_back(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)));
        f_.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, kAuditArch, 1, 0));
        f_.push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS));
        f_.push_back(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)));
    }
    void allow(long nr) {
        f_.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, static_cast<std::uint32_t>(nr), 0, 1));
        f_.push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
    }
    /// Allowed when argument `arg` (its low 32 bits: a descriptor) is `value`.
    void allow_if_arg(long nr, int arg, std::uint32_t value) {
        f_.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, static_cast<std::uint32_t>(nr), 0, 4));
        f_.push_back(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, arg_low(arg)));
        f_.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, value, 0, 1));
        f_.push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
        f_.push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS));
    }
    /// Allowed when argument `arg` has none of the bits of `mask` (PROT_EXEC of mmap, mprotect).
    void allow_if_arg_clear(long nr, int arg, std::uint32_t mask) {
        f_.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, static_cast<std::uint32_t>(nr), 0, 4));
        f_.push_back(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, arg_low(arg)));
        f_.push_back(BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, mask, 1, 0));
        f_.push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
        f_.push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS));
    }
    /// Empty when installed, else why not.
    std::string install() {
        f_.push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS));
        sock_fprog prog{static_cast<unsigned short>(f_.size()), f_.data()};
#ifdef SYS_seccomp
        if (::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) == 0) return {};
#endif
        if (::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) == 0) return {};
        return std::string("seccomp: ") + std::strerror(errno);
    }

private:
    static std::uint32_t arg_low(int arg) {  // little-endian: the low half comes first
        return static_cast<std::uint32_t>(offsetof(seccomp_data, args) + sizeof(std::uint64_t) * static_cast<unsigned>(arg));
    }
    std::vector<sock_filter> f_;
};

// What the worker needs once sandboxed: its two pipes, memory (never executable), the clocks the
// limits read, futex (uncontended locks can still call it), and the ways out.
std::string install_seccomp(int in_fd, int out_fd) {
    Filter f;
#ifdef ARCLIGHT_WORKER_ASAN
    // The sanitizer runtimes read and write descriptors of their own (reports go to stderr, which is
    // closed: EBADF), and use a few calls more. Still no open, socket, exec, fork or kill of others.
    f.allow(SYS_read);
    f.allow(SYS_write);
    f.allow(SYS_sched_yield);
    f.allow(SYS_getpid);
    f.allow(SYS_gettid);
    f.allow(SYS_sigaltstack);
    f.allow(SYS_rt_sigaction);
    f.allow(SYS_nanosleep);
    f.allow(SYS_clock_nanosleep);
    f.allow(SYS_mprotect);
    (void)in_fd;
    (void)out_fd;
#else
    f.allow_if_arg(SYS_read, 0, static_cast<std::uint32_t>(in_fd));
    f.allow_if_arg(SYS_write, 0, static_cast<std::uint32_t>(out_fd));
    f.allow_if_arg_clear(SYS_mprotect, 2, PROT_EXEC);
#endif
    f.allow_if_arg_clear(SYS_mmap, 2, PROT_EXEC);
    f.allow(SYS_munmap);
    f.allow(SYS_mremap);
    f.allow(SYS_madvise);
    f.allow(SYS_brk);
    f.allow(SYS_futex);
    f.allow(SYS_clock_gettime);
#ifdef SYS_gettimeofday
    f.allow(SYS_gettimeofday);
#endif
    f.allow(SYS_getrusage);
    f.allow(SYS_rt_sigreturn);
    f.allow(SYS_rt_sigprocmask);
    f.allow(SYS_exit);
    f.allow(SYS_exit_group);
    return f.install();
}

#else
std::string install_seccomp(int, int) { return "no seccomp filter for this architecture"; }
#endif

// ------------------------------------------------------------------------------------------------
// Frames (blocking: the worker has nothing else to do)
// ------------------------------------------------------------------------------------------------

bool read_all(int fd, char* p, std::size_t n) {
    while (n > 0) {
        const ssize_t r = ::read(fd, p, n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return false;
        p += r;
        n -= static_cast<std::size_t>(r);
    }
    return true;
}

bool write_all(int fd, const char* p, std::size_t n) {
    while (n > 0) {
        const ssize_t r = ::write(fd, p, n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return false;
        p += r;
        n -= static_cast<std::size_t>(r);
    }
    return true;
}

bool read_frame(int fd, std::size_t max, std::string& body) {
    unsigned char header[wire::kHeaderBytes];
    if (!read_all(fd, reinterpret_cast<char*>(header), sizeof header)) return false;
    const std::size_t n = wire::body_length(header);
    if (n > max) return false;
    body.resize(n);
    return read_all(fd, body.data(), n);
}

bool write_frame(int fd, std::string_view body) {
    const std::string f = wire::frame(body);
    return write_all(fd, f.data(), f.size());
}

std::int64_t own_cpu_ms() {
    rusage ru{};
    ::getrusage(RUSAGE_SELF, &ru);
    return (std::int64_t{ru.ru_utime.tv_sec} + ru.ru_stime.tv_sec) * 1000 + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000;
}

// One request: the results of its jobs, or {"failed": why} when the request itself could not be
// handled (the parent then retires this worker).
std::string handle(ScriptRunner& runner, const std::string& body) {
    try {
        const json::value req = json::parse(body, {}, wire::parse_options());
        const auto& inputs = req.at("inputs").as_array();
        const auto& jobs = req.at("jobs").as_array();
        json::array results;
        results.reserve(jobs.size());
        for (const auto& j : jobs) {
            ScriptLimits limits;
            const auto& job = j.as_object();
            const auto index = job.at("input").to_number<std::size_t>();
            if (!wire::limits_from_json(job.at("limits"), limits) || index >= inputs.size())
                return json::serialize(json::object{{"failed", "a malformed request"}});
            ScriptResult r;
            try {
                r = runner.run(job.at("code").as_string(), inputs[index], limits);
            } catch (const std::bad_alloc&) {
                r.status = ScriptResult::Status::memory_limit;
                r.error = "the script worker ran out of memory";
            }
            results.push_back(wire::result_to_json(r));
        }
        return json::serialize(json::object{{"results", std::move(results)}, {"cpu_ms", own_cpu_ms()}});
    } catch (const std::bad_alloc&) {
        return R"({"failed":"the script worker ran out of memory reading the request"})";
    } catch (const std::exception&) {
        return R"({"failed":"a malformed request"})";
    }
}

}  // namespace

void run_script_worker(int in_fd, int out_fd, const WorkerLimits& limits) {
    // Everything that allocates or initializes lazily runs once before the sandbox closes.
    ScriptRunner runner(1);
    {
        const json::value empty = json::object{};
        (void)runner.run("return {x = 1}", empty, ScriptLimits{});
        (void)own_cpu_ms();
    }
    close_other_fds(in_fd, out_fd);
    set_rlimits(limits, in_fd, out_fd);
    std::string seccomp = "unavailable: no_new_privs";
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0) {
        const std::string why = install_seccomp(in_fd, out_fd);
        seccomp = why.empty() ? "installed" : "unavailable: " + why;
    }
    const std::size_t max_frame = limits.max_frame_bytes ? limits.max_frame_bytes : wire::kDefaultMaxFrameBytes;
    if (!write_frame(out_fd, json::serialize(json::object{{"ready", true}, {"seccomp", seccomp}}))) ::_exit(0);
    std::string body;
    for (;;) {
        if (!read_frame(in_fd, max_frame, body)) ::_exit(0);  // the parent closed the pipe (or sent garbage)
        const std::string reply = handle(runner, body);
        if (!write_frame(out_fd, reply)) ::_exit(0);
    }
}

void script_worker_main(int argc, char** argv) {
    WorkerLimits limits;
    auto number = [](std::string_view arg, std::string_view prefix, unsigned long long& out) {
        if (!arg.starts_with(prefix)) return false;
        out = std::strtoull(std::string(arg.substr(prefix.size())).c_str(), nullptr, 10);
        return true;
    };
    for (int i = 2; i < argc; ++i) {
        unsigned long long v = 0;
        const std::string_view a = argv[i];
        if (number(a, "--address-space=", v)) limits.address_space_bytes = static_cast<std::size_t>(v);
        else if (number(a, "--cpu-seconds=", v)) limits.cpu_seconds = static_cast<int>(v);
        else if (number(a, "--max-frame=", v)) limits.max_frame_bytes = static_cast<std::size_t>(v);
    }
    run_script_worker(0, 1, limits);
}

}  // namespace arclight::lua
