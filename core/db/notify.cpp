#include "core/db/notify.hpp"

#include "core/db/db.hpp"
#include "core/log/log.hpp"

#include <libpq-fe.h>
#include <soci/soci.h>

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <vector>

namespace arclight {

namespace {

constexpr std::size_t kMaxPayload = 7999;  // PostgreSQL: "payload string too long" from 8000 bytes
constexpr auto kCommandTimeout = std::chrono::seconds(10);  // connecting, LISTEN/UNLISTEN

// libpq's messages are multi-line with a trailing newline: one log line.
std::string one_line(std::string_view text) {
    std::string out;
    for (char c : text) {
        if (c == '\n' || c == '\t' || c == '\r') c = ' ';
        if (c == ' ' && (out.empty() || out.back() == ' ')) continue;
        out += c;
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out;
}

// Server messages on the listening connection (e.g. the FATAL of pg_terminate_backend) go to the
// log, not to libpq's default of stderr.
void log_notice(void*, const char* message) {
    log::info("db", "notify relay: server says: {}", one_line(message ? message : ""));
}

// libpq keyword=value quoting.
std::string conninfo_value(const std::string& v) {
    std::string out = "'";
    for (char c : v) {
        if (c == '\'' || c == '\\') out += '\\';
        out += c;
    }
    return out + "'";
}

void check_channel(std::string_view channel) {
    if (!NotifyRelay::valid_channel(channel)) {
        throw std::invalid_argument("invalid notification channel \"" + std::string(channel) +
                                    "\" (1-63 of a-z, 0-9, _; starting with a letter)");
    }
}

}  // namespace

bool NotifyRelay::valid_channel(std::string_view channel) noexcept {
    if (channel.empty() || channel.size() > 63 || channel[0] < 'a' || channel[0] > 'z') return false;
    return std::all_of(channel.begin(), channel.end(),
                       [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; });
}

struct NotifyRelay::Impl {
    Db& db;
    NotifyRelayOptions opt;
    bool postgres;
    std::string conninfo;
    int wake_fd = -1;

    mutable std::mutex m;
    mutable std::condition_variable cv;
    struct Sub {
        std::string channel;
        std::shared_ptr<Handler> handler;
        std::shared_ptr<Resync> resync;
    };
    std::map<SubscriptionId, Sub> subs;  // ordered: delivery in subscription order
    SubscriptionId next_id = 1;
    SubscriptionId running = 0;           // the subscriber whose handler runs now (0: none)
    std::uint64_t wanted_version = 0;     // bumped when the set of channels changes
    std::uint64_t synced_version = 0;     // the version LISTENed on the current connection
    bool started = false, stopping = false, exited = false, is_connected = false;
    std::uint64_t n_connections = 0;
    std::deque<std::pair<std::string, std::string>> local;  // SQLite: (channel, payload)
    std::thread thread;
    std::thread::id thread_id;

    Impl(Db& d, NotifyRelayOptions o) : db(d), opt(std::move(o)), postgres(d.backend() == DbBackend::postgres) {
        wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (wake_fd < 0) throw std::system_error(errno, std::generic_category(), "eventfd");
        if (postgres) {
            // Keep-alives find a silently dead connection in about a minute (nothing is ever sent on
            // it); the URL's own settings come later and win. application_name comes last: ours.
            conninfo = "keepalives=1 keepalives_idle=30 keepalives_interval=10 keepalives_count=3 " +
                       parse_db_url(db.url()).target + " application_name=" + conninfo_value(opt.application_name);
        }
    }
    ~Impl() { ::close(wake_fd); }

    void wake() const {
        std::uint64_t one = 1;
        [[maybe_unused]] auto n = ::write(wake_fd, &one, sizeof one);
    }
    void drain_wake() const {
        std::uint64_t v;
        [[maybe_unused]] auto n = ::read(wake_fd, &v, sizeof v);
    }
    bool stop_requested() {
        std::lock_guard lk(m);
        return stopping;
    }

    // Waits for `events` on `fd` (or only for a wake-up when fd < 0) until `timeout`.
    // Returns 1 when fd is ready, 0 on timeout, -1 when woken (stop or a subscription change).
    int wait(int fd, short events, std::chrono::milliseconds timeout) {
        pollfd p[2] = {{wake_fd, POLLIN, 0}, {fd, events, 0}};
        int n = ::poll(p, fd < 0 ? 1 : 2, timeout.count() < 0 ? -1 : static_cast<int>(timeout.count()));
        if (n <= 0) return 0;  // timeout (or EINTR: the caller's loop looks again)
        if (p[0].revents) {
            drain_wake();
            return -1;
        }
        return 1;
    }
    int wait_until(int fd, short events, std::chrono::steady_clock::time_point deadline) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        return wait(fd, events, std::max(left, std::chrono::milliseconds(0)));
    }

    // Calls fn for subscriber `id` unless it was unsubscribed meanwhile; unsubscribe() waits for it.
    template <class F>
    void invoke(SubscriptionId id, F&& fn) {
        {
            std::lock_guard lk(m);
            if (stopping || !subs.count(id)) return;
            running = id;
        }
        try {
            fn();
        } catch (const std::exception& e) {
            log::warn("db", "notification handler failed: {}", e.what());
        } catch (...) {
            log::warn("db", "notification handler failed");
        }
        {
            std::lock_guard lk(m);
            running = 0;
        }
        cv.notify_all();
    }

    void deliver(const std::string& channel, const std::string& payload) {
        std::vector<std::pair<SubscriptionId, std::shared_ptr<Handler>>> to;
        {
            std::lock_guard lk(m);
            for (const auto& [id, s] : subs)
                if (s.channel == channel) to.emplace_back(id, s.handler);
        }
        for (auto& [id, h] : to) invoke(id, [&] { (*h)(payload); });
    }

    void resync_all() {
        std::vector<std::pair<SubscriptionId, std::shared_ptr<Resync>>> to;
        {
            std::lock_guard lk(m);
            for (const auto& [id, s] : subs)
                if (s.resync && *s.resync) to.emplace_back(id, s.resync);
        }
        for (auto& [id, r] : to) invoke(id, [&] { (*r)(); });
    }

    // ---- SQLite: local delivery ---------------------------------------------------------------
    void run_local() {
        {
            std::lock_guard lk(m);
            is_connected = true;
            n_connections = 1;
            synced_version = wanted_version;
        }
        cv.notify_all();
        while (!stop_requested()) {
            std::pair<std::string, std::string> next;
            {
                std::lock_guard lk(m);
                synced_version = wanted_version;
                if (!local.empty()) {
                    next = std::move(local.front());
                    local.pop_front();
                }
            }
            cv.notify_all();
            if (next.first.empty()) {
                wait(-1, 0, std::chrono::milliseconds(-1));
                continue;
            }
            deliver(next.first, next.second);
        }
    }

    // ---- PostgreSQL: the listening connection -------------------------------------------------
    // Connects without blocking in libpq (so stop() is never stuck behind an unreachable server).
    PGconn* connect() {
        PGconn* c = PQconnectStart(conninfo.c_str());
        if (!c) return nullptr;
        PQsetNoticeProcessor(c, &log_notice, nullptr);
        auto deadline = std::chrono::steady_clock::now() + kCommandTimeout;
        auto st = PQstatus(c) == CONNECTION_BAD ? PGRES_POLLING_FAILED : PGRES_POLLING_WRITING;
        while (st != PGRES_POLLING_OK && st != PGRES_POLLING_FAILED) {
            int r = wait_until(PQsocket(c), st == PGRES_POLLING_READING ? POLLIN : POLLOUT, deadline);
            if (r == -1 && stop_requested()) break;
            if (r == 0 && std::chrono::steady_clock::now() >= deadline) break;
            if (r == 1) st = PQconnectPoll(c);
        }
        if (st != PGRES_POLLING_OK) {
            if (st == PGRES_POLLING_FAILED) last_error = PQerrorMessage(c);
            else last_error = "timed out";
            PQfinish(c);
            return nullptr;
        }
        return c;
    }

    // Runs a command (LISTEN/UNLISTEN) without blocking in libpq; false if it failed.
    bool command(PGconn* c, const std::string& sql) {
        if (!PQsendQuery(c, sql.c_str())) return false;
        auto deadline = std::chrono::steady_clock::now() + kCommandTimeout;
        bool ok = true;
        for (;;) {
            while (PQisBusy(c)) {
                int r = wait_until(PQsocket(c), POLLIN, deadline);
                if (r == -1 && stop_requested()) return false;
                if (r == 0 && std::chrono::steady_clock::now() >= deadline) return false;
                if (!PQconsumeInput(c)) return false;
            }
            PGresult* res = PQgetResult(c);
            if (!res) break;
            if (PQresultStatus(res) != PGRES_COMMAND_OK) {
                ok = false;
                last_error = PQresultErrorMessage(res);
            }
            PQclear(res);
        }
        return ok;
    }

    void deliver_pending(PGconn* c) {
        while (PGnotify* n = PQnotifies(c)) {
            std::string channel = n->relname ? n->relname : "", payload = n->extra ? n->extra : "";
            PQfreemem(n);
            deliver(channel, payload);
        }
    }

    std::string last_error;

    void run_postgres() {
        PGconn* conn = nullptr;
        std::set<std::string> listening;
        auto backoff = opt.min_backoff;
        bool reconnecting = false;  // resync subscribers once LISTEN is back
        bool down_logged = false;
        auto drop = [&](const char* what) {
            std::string why = one_line(last_error.empty() && conn ? PQerrorMessage(conn) : last_error);
            if (!stop_requested()) log::warn("db", "notify relay: {}: {}; reconnecting", what, why);
            if (conn) PQfinish(conn);
            conn = nullptr;
            last_error.clear();
            std::lock_guard lk(m);
            if (is_connected) reconnecting = true;
            is_connected = false;
        };
        while (!stop_requested()) {
            if (!conn) {
                conn = connect();
                if (!conn) {
                    if (stop_requested()) break;
                    if (!down_logged) log::warn("db", "notify relay: cannot connect: {}; retrying", one_line(last_error));
                    down_logged = true;
                    last_error.clear();
                    wait(-1, 0, backoff);
                    backoff = std::min(backoff * 2, opt.max_backoff);
                    continue;
                }
                listening.clear();
            }
            std::set<std::string> want;
            std::uint64_t version;
            {
                std::lock_guard lk(m);
                for (const auto& [id, s] : subs) want.insert(s.channel);
                version = wanted_version;
            }
            if (want != listening) {
                std::string sql;
                for (const auto& ch : want)
                    if (!listening.count(ch)) sql += "LISTEN " + ch + ";";
                for (const auto& ch : listening)
                    if (!want.count(ch)) sql += "UNLISTEN " + ch + ";";
                if (!command(conn, sql)) {
                    if (stop_requested()) break;
                    drop("LISTEN failed");
                    continue;
                }
                listening = std::move(want);
            }
            bool resync = false;
            {
                std::lock_guard lk(m);
                synced_version = version;
                if (!is_connected) {
                    is_connected = true;
                    ++n_connections;
                    resync = reconnecting || down_logged;
                    reconnecting = false;
                }
            }
            cv.notify_all();
            if (resync) {
                log::info("db", "notify relay: listening again");
                down_logged = false;
                resync_all();
            }
            backoff = opt.min_backoff;
            deliver_pending(conn);
            int r = wait(PQsocket(conn), POLLIN, std::chrono::milliseconds(-1));
            if (r == 1) {
                if (!PQconsumeInput(conn) || PQstatus(conn) != CONNECTION_OK) {
                    drop("connection lost");
                    continue;
                }
                deliver_pending(conn);
            }
        }
        if (conn) PQfinish(conn);
        std::lock_guard lk(m);
        is_connected = false;
    }

    void run() {
        try {
            if (postgres) run_postgres();
            else run_local();
        } catch (const std::exception& e) {
            log::error("db", "notify relay stopped: {}", e.what());
        }
        {
            std::lock_guard lk(m);
            is_connected = false;
            exited = true;
        }
        cv.notify_all();
    }
};

NotifyRelay::NotifyRelay(Db& db, NotifyRelayOptions options) : impl_(std::make_shared<Impl>(db, std::move(options))) {}

NotifyRelay::~NotifyRelay() { stop(std::chrono::steady_clock::now() + std::chrono::seconds(5)); }

void NotifyRelay::start() {
    std::lock_guard lk(impl_->m);
    if (impl_->started) return;
    impl_->started = true;
    auto self = impl_;
    impl_->thread = std::thread([self] { self->run(); });
    impl_->thread_id = impl_->thread.get_id();
}

void NotifyRelay::stop(std::chrono::steady_clock::time_point deadline) {
    auto& I = *impl_;
    std::unique_lock lk(I.m);
    I.stopping = true;
    I.wake();
    I.cv.notify_all();  // wait_ready() callers
    if (!I.thread.joinable()) return;
    if (std::this_thread::get_id() == I.thread_id) {
        I.thread.detach();  // stop() from a handler: the thread ends by itself (it holds Impl)
        return;
    }
    if (!I.cv.wait_until(lk, deadline, [&] { return I.exited; }))
        log::warn("db", "notify relay: still in a handler or a host name lookup at the stop deadline; waiting");
    std::thread t = std::move(I.thread);
    lk.unlock();
    t.join();
}

NotifyRelay::SubscriptionId NotifyRelay::subscribe(std::string channel, Handler handler, Resync on_resync) {
    check_channel(channel);
    if (!handler) throw std::invalid_argument("subscribe: empty handler");
    auto& I = *impl_;
    std::lock_guard lk(I.m);
    bool known = std::any_of(I.subs.begin(), I.subs.end(), [&](const auto& s) { return s.second.channel == channel; });
    auto id = I.next_id++;
    I.subs.emplace(id, Impl::Sub{std::move(channel), std::make_shared<Handler>(std::move(handler)),
                                 std::make_shared<Resync>(std::move(on_resync))});
    if (!known) {
        ++I.wanted_version;
        I.wake();
    }
    return id;
}

void NotifyRelay::unsubscribe(SubscriptionId id) {
    auto& I = *impl_;
    std::unique_lock lk(I.m);
    auto it = I.subs.find(id);
    if (it == I.subs.end()) return;
    std::string channel = std::move(it->second.channel);
    I.subs.erase(it);
    if (std::none_of(I.subs.begin(), I.subs.end(), [&](const auto& s) { return s.second.channel == channel; })) {
        ++I.wanted_version;
        I.wake();
    }
    if (std::this_thread::get_id() != I.thread_id) I.cv.wait(lk, [&] { return I.running != id; });
}

void NotifyRelay::notify(const std::string& channel, const std::string& payload) {
    check_channel(channel);
    if (payload.size() > kMaxPayload) throw std::invalid_argument("notification payload too long (8000 bytes or more)");
    auto& I = *impl_;
    if (I.postgres) {
        I.db.with_session([&](soci::session& s) { s << "SELECT pg_notify(:c, :p)", soci::use(channel), soci::use(payload); });
        return;
    }
    std::lock_guard lk(I.m);
    if (I.stopping) return;
    I.local.emplace_back(channel, payload);
    I.wake();
}

boost::asio::awaitable<void> NotifyRelay::notify_async(std::string channel, std::string payload) {
    check_channel(channel);
    if (payload.size() > kMaxPayload) throw std::invalid_argument("notification payload too long (8000 bytes or more)");
    if (!impl_->postgres) {
        notify(channel, payload);
        co_return;
    }
    auto q = [channel = std::move(channel), payload = std::move(payload)](soci::session& s) {
        s << "SELECT pg_notify(:c, :p)", soci::use(channel), soci::use(payload);
    };
    co_await impl_->db.run(std::move(q));
}

bool NotifyRelay::wait_ready(std::chrono::steady_clock::time_point deadline) const {
    auto& I = *impl_;
    std::unique_lock lk(I.m);
    auto target = I.wanted_version;
    I.cv.wait_until(lk, deadline, [&] { return I.stopping || (I.is_connected && I.synced_version >= target); });
    return !I.stopping && I.is_connected && I.synced_version >= target;
}

bool NotifyRelay::connected() const {
    std::lock_guard lk(impl_->m);
    return impl_->is_connected;
}

std::uint64_t NotifyRelay::connections() const {
    std::lock_guard lk(impl_->m);
    return impl_->n_connections;
}

}  // namespace arclight
