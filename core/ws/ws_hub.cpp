#include "core/ws/ws_hub.hpp"

#include "core/log/log.hpp"
#include "core/time/time.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <boost/json.hpp>

#include <deque>
#include <map>
#include <unordered_set>

namespace arclight {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace json = boost::json;

struct WsHub::Conn {
    virtual ~Conn() = default;
    /// Starts a "going away" close (on the connection's strand).
    virtual void close_going_away() = 0;
};

namespace {

template <class Next>
struct ConnT final : WsHub::Conn, std::enable_shared_from_this<ConnT<Next>> {
    ConnT(WsHub& hub, std::size_t max_queue, std::atomic<std::uint64_t>& dropped, Next&& stream)
        : hub(hub), max_queue(max_queue), dropped(dropped), ws(std::move(stream)), wake(ws.get_executor()),
          recheck_timer(ws.get_executor()) {
        wake.expires_at(asio::steady_timer::time_point::max());
    }
    WsHub& hub;
    std::size_t max_queue;
    std::atomic<std::uint64_t>& dropped;
    websocket::stream<Next> ws;
    asio::steady_timer wake;
    asio::steady_timer recheck_timer;  // the credential's next check (recheck_loop)
    std::mutex principal_m;
    std::shared_ptr<const Principal> principal;  // who is connected, as of the last check
    std::shared_ptr<const Principal> who() {
        std::lock_guard lk(principal_m);
        return principal;
    }
    std::deque<std::string> queue;
    bool closed = false;
    std::map<std::string, Subscription> subs;
    std::deque<std::string> recent_ids;          // dedup for overlapping patterns
    std::unordered_set<std::string> recent_set;
    // Control frames the client may still send (token bucket, see WsOptions).
    double control_tokens = 0;
    std::chrono::steady_clock::time_point control_refilled{};
    bool control_flood = false;

    // Runs on the connection's strand (from the stream's control callback): spends one token,
    // false when none is left.
    bool spend_control_token(double rate, double burst) {
        auto now = std::chrono::steady_clock::now();
        std::chrono::duration<double> elapsed = now - control_refilled;
        control_refilled = now;
        control_tokens = std::min(burst, control_tokens + elapsed.count() * rate);
        if (control_tokens < 1) return false;
        control_tokens -= 1;
        return true;
    }

    // Runs on the connection's strand.
    void send(std::string msg) {
        if (closed) return;
        if (queue.size() >= max_queue) {
            // Slow consumer: drop the connection rather than buffer without bound.
            dropped.fetch_add(1);
            log::warn("ws", "dropping a client whose send queue reached {} messages", queue.size());
            closed = true;
            beast::error_code ec;
            beast::get_lowest_layer(ws).socket().close(ec);
            wake.cancel();
            return;
        }
        queue.push_back(std::move(msg));
        wake.cancel();
    }
    bool first_delivery(const std::string& id) {
        if (!recent_set.insert(id).second) return false;
        recent_ids.push_back(id);
        if (recent_ids.size() > 256) {
            recent_set.erase(recent_ids.front());
            recent_ids.pop_front();
        }
        return true;
    }
    void close_going_away() override { close_with(websocket::close_code::going_away, ""); }
    void close_with(websocket::close_code code, std::string reason) {
        auto self = this->shared_from_this();
        asio::co_spawn(
            ws.get_executor(),
            [self, code, reason = std::move(reason)]() -> asio::awaitable<void> {
                if (self->closed) co_return;
                self->closed = true;
                self->wake.cancel();
                self->recheck_timer.cancel();
                websocket::close_reason why(code);
                why.reason = reason;
                co_await self->ws.async_close(why, asio::as_tuple(asio::use_awaitable));
            },
            asio::detached);
    }
};

}  // namespace

namespace {

std::string error_message(std::string_view detail) {
    return json::serialize(json::object{{"type", "error"}, {"detail", detail}});
}

template <class Next>
asio::awaitable<void> writer(std::shared_ptr<ConnT<Next>> c);

// Checks the connection's credential every `interval` while it is open; once it has ended
// (logout, expiry, revocation, password change, user disabled or deleted, on any instance) the
// socket is closed with 1008 instead of streaming on.
template <class Next>
asio::awaitable<void> recheck_loop(std::shared_ptr<ConnT<Next>> c, WsHub::Recheck recheck, std::chrono::milliseconds interval) {
    while (!c->closed) {
        c->recheck_timer.expires_after(interval);
        boost::system::error_code ec;
        co_await c->recheck_timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        if (c->closed) break;
        auto again = co_await recheck();
        if (again.valid && again.principal) {
            std::lock_guard lk(c->principal_m);
            c->principal = std::move(again.principal);
        }
        if (!again.valid && !c->closed) {
            log::info("ws", "closing a WebSocket whose credential has ended");
            c->close_with(websocket::close_code::policy_error, "credential ended");
            break;
        }
    }
}

}  // namespace

WsHub::WsHub(EventBus& bus, WsOptions options) : bus_(bus), options_(options) {}
WsHub::~WsHub() = default;

std::size_t WsHub::connections() const {
    std::lock_guard lk(mu_);
    return conns_.size();
}

void WsHub::close_all() {
    std::vector<std::shared_ptr<Conn>> all;
    {
        std::lock_guard lk(mu_);
        all.assign(conns_.begin(), conns_.end());
    }
    for (auto& c : all) c->close_going_away();
}

void WsHub::declare_topic(std::string prefix, std::string permission, bool per_project) {
    if (per_project) per_project_.insert(prefix);
    topic_permissions_[std::move(prefix)] = std::move(permission);
}

bool WsHub::delivers(const Principal& p, const Event& ev) const {
    if (ev.project.empty()) return !per_project_.count(ev.topic.substr(0, ev.topic.find('.'))) || p.instance_admin;
    return p.can(ev.project, topic_permission(ev.topic));
}

const std::string& WsHub::topic_permission(std::string_view topic) const {
    static const std::string every = "*";
    auto it = topic_permissions_.find(topic.substr(0, topic.find('.')));
    return it == topic_permissions_.end() ? every : it->second;
}

bool WsHub::may_subscribe(const Principal* principal, std::string_view pattern) const {
    return !principal || principal->has(topic_permission(pattern));
}

asio::awaitable<void> WsHub::run_session(beast::tcp_stream stream, beast::http::request<beast::http::string_body> req,
                                         std::shared_ptr<const Principal> principal, Recheck recheck) {
    return run(std::move(stream), std::move(req), std::move(principal), std::move(recheck));
}

asio::awaitable<void> WsHub::run_session(beast::ssl_stream<beast::tcp_stream> stream,
                                         beast::http::request<beast::http::string_body> req,
                                         std::shared_ptr<const Principal> principal, Recheck recheck) {
    return run(std::move(stream), std::move(req), std::move(principal), std::move(recheck));
}

template <class Next>
asio::awaitable<void> WsHub::run(Next stream, beast::http::request<beast::http::string_body> req,
                                 std::shared_ptr<const Principal> principal, Recheck recheck) {
    auto c = std::make_shared<ConnT<Next>>(*this, options_.max_queue, dropped_, std::move(stream));
    c->principal = principal;
    beast::get_lowest_layer(c->ws).expires_never();
    websocket::stream_base::timeout t{};
    t.handshake_timeout = std::chrono::seconds(10);
    t.idle_timeout = options_.idle_timeout;
    t.keep_alive_pings = true;
    c->ws.set_option(t);
    c->ws.read_message_max(options_.max_message_bytes);
    c->ws.text(true);
    // The stream answers pings by itself; every ping or pong the client sends spends a token, and
    // a client out of tokens is closed (1008) instead of being answered at the rate it sends.
    c->control_tokens = options_.control_frame_burst;
    c->control_refilled = std::chrono::steady_clock::now();
    c->ws.control_callback([conn = c.get(), rate = options_.max_control_frames_per_s, burst = options_.control_frame_burst,
                            floods = &control_floods_](websocket::frame_type kind, beast::string_view) {
        // `conn` lives while its stream reads (run() holds it); the callback runs only inside a read.
        if (kind == websocket::frame_type::close || conn->closed || conn->control_flood) return;
        if (conn->spend_control_token(rate, burst)) return;
        conn->control_flood = true;
        floods->fetch_add(1);
        log::warn("ws", "closing a WebSocket that sent control frames faster than {}/s (burst {})", rate, burst);
        conn->close_with(websocket::close_code::policy_error, "too many control frames");
    });
    auto [aec] = co_await c->ws.async_accept(req, asio::as_tuple(asio::use_awaitable));
    if (aec) co_return;
    {
        std::lock_guard lk(mu_);
        conns_.insert(c);
    }
    asio::co_spawn(c->ws.get_executor(), writer(c), asio::detached);
    if (recheck) asio::co_spawn(c->ws.get_executor(), recheck_loop(c, std::move(recheck), options_.recheck_interval), asio::detached);

    beast::flat_buffer buf;
    while (!c->closed) {
        buf.clear();
        auto [ec, n] = co_await c->ws.async_read(buf, asio::as_tuple(asio::use_awaitable));
        if (ec) {
            if (ec != websocket::error::closed) log::debug("ws", "connection ended: {}", ec.message());
            break;
        }
        if (!c->ws.got_text()) {
            c->send(error_message("binary messages are not supported; send JSON text"));
            continue;
        }
        boost::system::error_code jec;
        auto msg = json::parse(beast::buffers_to_string(buf.data()), jec);
        if (jec || !msg.is_object()) {
            c->send(error_message("message must be a JSON object"));
            continue;
        }
        auto& o = msg.as_object();
        auto type = o.if_contains("type");
        if (!type || !type->is_string()) {
            c->send(error_message("message needs a string \"type\""));
            continue;
        }
        auto kind = type->as_string();
        if (kind == "ping") {
            c->send(R"({"type":"pong"})");
        } else if (kind == "subscribe" || kind == "unsubscribe") {
            auto topics = o.if_contains("topics");
            if (!topics || !topics->is_array() || topics->as_array().empty()) {
                c->send(error_message("\"topics\" must be a non-empty array of topic patterns"));
                continue;
            }
            json::array done;
            std::string problem;
            for (const auto& t : topics->as_array()) {
                if (!t.is_string() || !valid_topic_pattern(t.as_string())) {
                    problem = "invalid topic pattern (dotted segments, '*' for one segment, a final '**' for the rest)";
                    continue;
                }
                std::string pattern(t.as_string());
                if (kind == "unsubscribe") {
                    c->subs.erase(pattern);
                    done.push_back(json::string(pattern));
                    continue;
                }
                if (c->subs.count(pattern)) {
                    done.push_back(json::string(pattern));
                    continue;
                }
                if (c->subs.size() >= options_.max_subscriptions) {
                    problem = "too many subscriptions on this connection";
                    continue;
                }
                if (!may_subscribe(principal.get(), pattern)) {
                    problem = "not allowed to subscribe to " + pattern;
                    continue;
                }
                std::weak_ptr<ConnT<Next>> weak = c;
                c->subs.emplace(pattern, bus_.subscribe(pattern, [weak, this](const EventPtr& ev) {
                    auto conn = weak.lock();
                    if (!conn) return;
                    auto principal = conn->who();
                    // An event of a project reaches only those who may read it there.
                    if (principal && !delivers(*principal, *ev)) return;
                    json::object msg{{"type", "event"},
                                     {"topic", ev->topic},
                                     {"id", ev->id},
                                     {"time", format_rfc3339(ev->time_ms)},
                                     {"data", ev->data}};
                    if (!ev->project.empty()) msg["project_id"] = ev->project;
                    auto text = json::serialize(msg);
                    asio::post(conn->ws.get_executor(), [conn, id = ev->id, text = std::move(text)]() mutable {
                        if (conn->first_delivery(id)) conn->send(std::move(text));
                    });
                }));
                done.push_back(json::string(pattern));
            }
            if (!done.empty()) {
                c->send(json::serialize(json::object{{"type", kind == "subscribe" ? "subscribed" : "unsubscribed"},
                                                     {"topics", std::move(done)}}));
            }
            if (!problem.empty()) c->send(error_message(problem));
        } else {
            c->send(error_message("unknown message type (expected subscribe, unsubscribe or ping)"));
        }
    }
    c->closed = true;
    c->wake.cancel();
    c->recheck_timer.cancel();
    c->subs.clear();
    beast::error_code ec;
    beast::get_lowest_layer(c->ws).socket().close(ec);
    std::lock_guard lk(mu_);
    conns_.erase(c);
}

namespace {

template <class Next>
asio::awaitable<void> writer(std::shared_ptr<ConnT<Next>> c) {
    while (true) {
        if (c->queue.empty()) {
            if (c->closed) break;
            boost::system::error_code ec;
            c->wake.expires_at(asio::steady_timer::time_point::max());
            co_await c->wake.async_wait(asio::redirect_error(asio::use_awaitable, ec));
            continue;
        }
        if (c->closed) break;
        std::string msg = std::move(c->queue.front());
        c->queue.pop_front();
        auto [ec, n] = co_await c->ws.async_write(asio::buffer(msg), asio::as_tuple(asio::use_awaitable));
        if (ec) {
            c->closed = true;
            break;
        }
    }
    c->queue.clear();
}

}  // namespace
}  // namespace arclight
