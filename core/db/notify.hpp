#pragma once
// NotifyRelay: PostgreSQL LISTEN/NOTIFY for the modules of one instance, over one connection.
//
// Instances of Arclight sharing a PostgreSQL database tell each other about changes with NOTIFY
// ("runs are waiting", "workflow X changed"). A relay keeps one listening libpq connection of its
// own (outside the Db pool; `application_name` "arclight notify relay" in pg_stat_activity),
// LISTENs on every channel somebody subscribed to and hands each notification to that channel's
// subscribers. When the connection drops (network, database restart, pg_terminate_backend) it
// reconnects with back-off (100 ms doubling to 5 s), LISTENs again and calls each subscriber's
// `on_resync`: notifications sent while it was down are lost, so a subscriber re-reads whatever
// state they would have announced (PostgreSQL keeps no backlog for a listener that is gone).
// on_resync is also called when the database was unreachable when the relay started and the
// first connection succeeds later; not after a first connection that succeeded at once.
//
// How a module uses it: one channel per module, named `arclight_<module>` (the workflow module's
// is `arclight_workflow`), payloads `<kind>:<what>`, e.g. 'workflow:<id>' (the empty payload for a
// plain wake-up). Subscribe in `subscribe()`/`start()`, unsubscribe in `stop()`:
//
//     sub_ = relay.subscribe("arclight_workflow",
//                            [this](std::string p) { if (p.rfind("workflow:", 0) == 0) drop(p.substr(9)); else kick(); },
//                            [this] { kick(); drop_all(); });
//     ...
//     co_await relay.notify_async("arclight_workflow", "workflow:" + id);  // every instance, this one too
//
// Handlers run on the relay's own thread, one at a time, in subscription order: keep them short
// and non-blocking (post real work to an executor). An exception from a handler is logged.
//
// Sending: notify()/notify_async() run `SELECT pg_notify(channel, payload)` on a session of the Db
// pool (not the listening connection, so sending never waits behind the listener), outside any
// transaction of the caller: the notification is sent at once. Every relay listening on the
// channel receives it, including the sender's own.
//
// SQLite (one instance per database file): there is no one else to tell, so the relay delivers
// notify() to its own subscribers only, on its thread, as on PostgreSQL; on_resync is never
// called. Code written against the relay behaves the same on both backends.

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace arclight {

class Db;

struct NotifyRelayOptions {
    /// Shown in pg_stat_activity for the listening connection.
    std::string application_name = "arclight notify relay";
    /// Wait before the first reconnection attempt; doubled after each failed one up to max_backoff.
    std::chrono::milliseconds min_backoff{100};
    std::chrono::milliseconds max_backoff{5000};
};

class NotifyRelay {
public:
    using Handler = std::function<void(std::string payload)>;
    using Resync = std::function<void()>;
    using SubscriptionId = std::uint64_t;

    /// `db` must outlive the relay. Does not connect yet (start() does).
    explicit NotifyRelay(Db& db, NotifyRelayOptions options = {});
    /// Stops (with a 5 s deadline) if still running.
    ~NotifyRelay();
    NotifyRelay(const NotifyRelay&) = delete;
    NotifyRelay& operator=(const NotifyRelay&) = delete;

    /// Starts the relay thread (once; later calls do nothing). On PostgreSQL it connects in the
    /// background: start() does not wait for the database (see wait_ready).
    void start();
    /// Stops delivering, closes the connection and joins the thread. Idempotent. Returns by
    /// `deadline` unless a handler is still running or a host name lookup is in progress (then it
    /// logs a warning and waits for them: handlers never outlive stop()).
    void stop(std::chrono::steady_clock::time_point deadline);

    /// Adds a subscriber to `channel` (see valid_channel; throws std::invalid_argument). Allowed
    /// before and after start(). Notifications sent before the channel is LISTENed on are not
    /// delivered: wait_ready() says when it is.
    SubscriptionId subscribe(std::string channel, Handler handler, Resync on_resync = {});
    /// Removes a subscriber (unknown ids are ignored). When it returns, the handler is not running
    /// and will not be called again, unless it is called from that very handler (on the relay
    /// thread), where it only prevents later calls.
    void unsubscribe(SubscriptionId id);

    /// Sends `payload` to every relay listening on `channel` (blocking: takes a pool session).
    /// Throws std::invalid_argument for an invalid channel or a payload of 8000 bytes or more
    /// (PostgreSQL's limit, enforced on SQLite too), soci::soci_error when the database fails.
    void notify(const std::string& channel, const std::string& payload);
    /// notify() on the Db's blocking pool.
    boost::asio::awaitable<void> notify_async(std::string channel, std::string payload);

    /// Waits until the relay is running, connected and LISTENing on every channel subscribed to
    /// before this call. False at `deadline` (e.g. the database is down) or once stopped.
    bool wait_ready(std::chrono::steady_clock::time_point deadline) const;
    /// True while the listening connection is up (on SQLite: while running).
    bool connected() const;
    /// How many times the listening connection was established (1 after the first connect).
    std::uint64_t connections() const;

    /// A channel is 1–63 bytes of [a-z0-9_], starting with a letter (so it is the same
    /// identifier quoted or not).
    static bool valid_channel(std::string_view channel) noexcept;

private:
    struct Impl;
    std::shared_ptr<Impl> impl_;
};

}  // namespace arclight
