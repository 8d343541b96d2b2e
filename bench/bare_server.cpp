// bench_bare_server: the ceiling for bench/http_bench.sh.
//
// The smallest Boost.Beast HTTP/1.1 keep-alive server that is still an honest HTTP server: it
// parses every request with Beast, answers `GET /healthz` with {"status":"ok"} (404 otherwise),
// honours keep-alive, and runs one io_context on N threads with one strand per connection (the
// same threading model arclight uses). No timeouts, no logging, no routing, no headers beyond the
// ones Beast needs: whatever arclight's /healthz costs on top of this is arclight's overhead.
//
// Usage: bench_bare_server PORT [THREADS=1]   (PORT 0 picks a free port; the bound port is
// printed on stdout as "listening on 127.0.0.1:PORT"). Stops on SIGINT/SIGTERM.

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

class Session : public std::enable_shared_from_this<Session> {
public:
    explicit Session(tcp::socket socket) : socket_(std::move(socket)) {}

    void start() { read(); }

private:
    void read() {
        req_ = {};
        http::async_read(socket_, buffer_, req_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
            self->on_read(ec);
        });
    }

    void on_read(beast::error_code ec) {
        if (ec) return close();  // end_of_stream, reset, malformed request: just close
        bool found = req_.method() == http::verb::get && req_.target() == "/healthz";
        res_ = {};
        res_.version(req_.version());
        res_.result(found ? http::status::ok : http::status::not_found);
        res_.set(http::field::content_type, "application/json");
        res_.body() = found ? R"({"status":"ok"})" : R"({"status":"not found"})";
        res_.keep_alive(req_.keep_alive());
        res_.prepare_payload();
        http::async_write(socket_, res_, [self = shared_from_this()](beast::error_code wec, std::size_t) {
            if (wec || !self->res_.keep_alive()) return self->close();
            self->read();
        });
    }

    void close() {
        beast::error_code ec;
        socket_.shutdown(tcp::socket::shutdown_send, ec);
        socket_.close(ec);
    }

    tcp::socket socket_;
    beast::flat_buffer buffer_;
    http::request<http::string_body> req_;
    http::response<http::string_body> res_;
};

class Listener {
public:
    Listener(asio::io_context& ioc, unsigned short port) : ioc_(ioc), acceptor_(asio::make_strand(ioc)) {
        tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), port);
        acceptor_.open(ep.protocol());
        acceptor_.set_option(asio::socket_base::reuse_address(true));
        acceptor_.bind(ep);
        acceptor_.listen(asio::socket_base::max_listen_connections);
    }

    unsigned short port() const { return acceptor_.local_endpoint().port(); }

    void accept() {
        acceptor_.async_accept(asio::make_strand(ioc_), [this](beast::error_code ec, tcp::socket socket) {
            if (ec == asio::error::operation_aborted) return;
            if (!ec) {
                socket.set_option(tcp::no_delay(true), ec);
                std::make_shared<Session>(std::move(socket))->start();
            }
            accept();
        });
    }

    void close() {
        asio::post(acceptor_.get_executor(), [this] {
            beast::error_code ec;
            acceptor_.close(ec);
        });
    }

private:
    asio::io_context& ioc_;
    tcp::acceptor acceptor_;
};

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2 || argc > 3) {
        std::fprintf(stderr, "usage: %s PORT [THREADS=1]\n", argv[0]);
        return 2;
    }
    int port = std::atoi(argv[1]);
    int threads = argc > 2 ? std::atoi(argv[2]) : 1;
    if (port < 0 || port > 65535 || threads < 1 || threads > 256) {
        std::fprintf(stderr, "bad PORT or THREADS\n");
        return 2;
    }
    try {
        asio::io_context ioc(threads);
        Listener listener(ioc, static_cast<unsigned short>(port));
        listener.accept();
        asio::signal_set signals(ioc, SIGINT, SIGTERM);
        signals.async_wait([&](beast::error_code, int) {
            listener.close();
            ioc.stop();
        });
        std::printf("listening on 127.0.0.1:%u (%d I/O threads)\n", listener.port(), threads);
        std::fflush(stdout);
        std::vector<std::thread> pool;
        for (int i = 1; i < threads; ++i) pool.emplace_back([&] { ioc.run(); });
        ioc.run();
        for (auto& t : pool) t.join();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_bare_server: %s\n", e.what());
        return 1;
    }
    return 0;
}
