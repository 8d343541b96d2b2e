#pragma once
// The HTTP/1.1 listener and sessions (Boost.Beast, one coroutine per connection on its own strand).
// Limits per session: header and body size (431/413), read timeout for a request once it started,
// idle timeout between keep-alive requests, and one request processed at a time.

#include "core/http/access.hpp"
#include "core/http/forwarded.hpp"
#include "core/http/router.hpp"
#include "core/http/static_files.hpp"
#include "core/ws/ws_hub.hpp"

#include <boost/asio/io_context.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <list>
#include <memory>
#include <mutex>
#include <string>

namespace boost::asio::ssl {
class context;
}  // namespace boost::asio::ssl

namespace arclight {

struct ServerOptions {
    std::string host = "127.0.0.1";
    unsigned short port = 8080;
    std::size_t max_header_bytes = 16 * 1024;
    std::size_t max_header_fields = 100;
    std::size_t max_body_bytes = 1024 * 1024;
    std::chrono::milliseconds read_timeout{30000};
    std::chrono::milliseconds idle_timeout{60000};
    bool access_log = true;
    std::string tls_cert;  ///< PEM certificate chain; with tls_key, the port speaks only HTTPS/WSS
    std::string tls_key;   ///< PEM private key
    /// Peers whose forwarding header is believed (empty: none; the client is always the TCP peer).
    TrustedProxies trusted_proxies;
    ForwardedHeader forwarded_header = ForwardedHeader::x_forwarded_for;
};

class HttpServer {
public:
    /// Throws std::runtime_error naming the file when the TLS certificate or key cannot be loaded.
    HttpServer(boost::asio::io_context& ioc, const Router& router, WsHub& ws, const StaticFiles* ui,
               const AccessControl& access, ServerOptions options);
    ~HttpServer();

    /// Binds and listens; returns the bound port (useful with port 0). Throws on failure.
    unsigned short listen();
    /// Starts accepting connections on the I/O threads.
    void start();
    /// Stops accepting, closes idle keep-alive connections and lets in-flight requests finish
    /// (their responses carry Connection: close). Blocks until all sessions ended or `deadline`,
    /// then closes whatever is left. Call from a thread that is not an I/O thread.
    void shutdown(std::chrono::steady_clock::time_point deadline);
    std::size_t active_sessions() const;

private:
    struct SessionCtl;
    boost::asio::awaitable<void> accept_loop();
    boost::asio::awaitable<void> session(boost::asio::ip::tcp::socket socket);
    template <class Stream>
    boost::asio::awaitable<void> serve(Stream& stream);
    /// Answers what needs no waiting (unknown paths, the UI, synchronous routes); otherwise returns
    /// nullopt with the match in `m`, for dispatch().
    std::optional<HttpResponse> dispatch_now(HttpRequest& req, RouteMatch& m);
    boost::asio::awaitable<HttpResponse> dispatch(HttpRequest& req, const Route& route);

    boost::asio::io_context& ioc_;
    const Router& router_;
    WsHub& ws_;
    const StaticFiles* ui_;
    const AccessControl& access_;
    ServerOptions options_;
    std::unique_ptr<boost::asio::ip::tcp::acceptor> acceptor_;
    std::shared_ptr<boost::asio::ssl::context> tls_;
    std::atomic<bool> stopping_{false};
    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::list<std::shared_ptr<SessionCtl>> sessions_;
    std::string id_prefix_;
    std::atomic<std::uint64_t> next_id_{0};
};

}  // namespace arclight
