#pragma once
// WebSocket endpoint (/ws on the HTTP port). JSON text messages:
//   client -> {"type":"subscribe","topics":[...]} | {"type":"unsubscribe","topics":[...]} | {"type":"ping"}
//   server -> {"type":"subscribed","topics":[...]} | {"type":"unsubscribed",...} | {"type":"pong"}
//             {"type":"event","topic","id","time","project_id"?,"data"} | {"type":"error","detail"}
// Each connection has a bounded send queue: a client that does not keep up is disconnected; the
// bus is never blocked by it. Control frames (pings and pongs, which the stream answers by itself)
// are rate-limited per connection: a flood is closed with 1008.

#include "core/bus/bus.hpp"
#include "core/http/principal.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <map>
#include <set>

namespace boost::beast {
template <class NextLayer>
class ssl_stream;
}  // namespace boost::beast

namespace arclight {

struct WsOptions {
    std::size_t max_queue = 1024;             ///< messages waiting to be sent before the client is dropped
    std::size_t max_message_bytes = 65536;    ///< largest accepted client message
    std::size_t max_subscriptions = 64;       ///< topic patterns per connection
    std::chrono::milliseconds idle_timeout{60000};  ///< no traffic (pings included) for this long closes the connection
    std::chrono::milliseconds recheck_interval{5000};  ///< how often a connection's credential is checked again
    /// Control frames (pings, pongs) a client may send: a token bucket refilled at this rate that
    /// holds `control_frame_burst`; a client over it is closed with 1008 (policy violation).
    double max_control_frames_per_s = 20;
    double control_frame_burst = 40;
};

class WsHub {
public:
    WsHub(EventBus& bus, WsOptions options);
    ~WsHub();

    /// A credential checked again: `valid` false once it has ended (the socket is then closed
    /// with 1008, policy violation); `principal`, when set, is who it is now (a change of the
    /// user's projects or roles applies to the events delivered from then on).
    struct Rechecked {
        bool valid = true;
        std::shared_ptr<const Principal> principal;
    };
    using Recheck = std::function<boost::asio::awaitable<Rechecked>()>;
    /// Runs one connection to completion, taking over a stream whose request is an upgrade.
    /// `principal` is the authenticated caller (null when no access check is installed);
    /// `recheck`, when given, runs every `recheck_interval` while the connection is open.
    boost::asio::awaitable<void> run_session(boost::beast::tcp_stream stream,
                                             boost::beast::http::request<boost::beast::http::string_body> req,
                                             std::shared_ptr<const Principal> principal, Recheck recheck = {});
    /// The same over TLS.
    boost::asio::awaitable<void> run_session(boost::beast::ssl_stream<boost::beast::tcp_stream> stream,
                                             boost::beast::http::request<boost::beast::http::string_body> req,
                                             std::shared_ptr<const Principal> principal, Recheck recheck = {});
    /// Declares the permission needed to subscribe to topics whose first segment is `prefix`
    /// (e.g. "workflow" -> "runs.read"). Call during start-up. With a principal, a pattern whose
    /// first segment is a wildcard or undeclared is refused.
    /// `per_project`: its events belong to projects (Event::project); one published without a
    /// project reaches instance admins only.
    void declare_topic(std::string prefix, std::string permission, bool per_project = false);
    /// Every declared topic prefix and its permission (read at start-up, before connections).
    const std::map<std::string, std::string, std::less<>>& topic_permissions() const noexcept { return topic_permissions_; }
    /// Whether an event reaches `p` (who may subscribe to its topic): one of a project only
    /// members holding the topic's permission there.
    bool delivers(const Principal& p, const Event& ev) const;
    /// The permission declared for a topic's first segment ("*" when undeclared).
    const std::string& topic_permission(std::string_view topic) const;
    /// Whether `principal` may subscribe to `pattern` (true for everyone without auth).
    bool may_subscribe(const Principal* principal, std::string_view pattern) const;
    /// Sends a "going away" close to every connection (graceful shutdown).
    void close_all();
    std::size_t connections() const;
    std::uint64_t dropped_slow_clients() const noexcept { return dropped_.load(); }
    std::uint64_t closed_control_floods() const noexcept { return control_floods_.load(); }

    struct Conn;  ///< one connection (defined in ws_hub.cpp)

private:
    template <class Next>
    boost::asio::awaitable<void> run(Next stream, boost::beast::http::request<boost::beast::http::string_body> req,
                                     std::shared_ptr<const Principal> principal, Recheck recheck);

    EventBus& bus_;
    WsOptions options_;
    std::map<std::string, std::string, std::less<>> topic_permissions_;
    std::set<std::string, std::less<>> per_project_;
    mutable std::mutex mu_;
    std::set<std::shared_ptr<Conn>> conns_;
    std::atomic<std::uint64_t> dropped_{0};
    std::atomic<std::uint64_t> control_floods_{0};
};

}  // namespace arclight
