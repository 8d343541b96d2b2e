// The workflow module's outbound HTTP client: the SSRF guard (address classes, allow list, every
// redirect hop), timeouts, size limits, redirects, TLS verification, bad URLs. Everything runs
// against tiny servers on 127.0.0.x inside this file; nothing leaves the machine.
#include "core/net/http_client.hpp"

#include <doctest/doctest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <openssl/ssl.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <future>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

using namespace arclight;
using namespace arclight::net;

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;
using Kind = OutboundError::Kind;
using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

Response reply(int status, std::string body, HeaderList headers = {}) {
    Response res(static_cast<http::status>(status), 11);
    for (auto& [name, value] : headers) res.set(name, value);
    res.body() = std::move(body);
    return res;
}

Response redirect(int status, std::string location) { return reply(status, "", {{"Location", std::move(location)}}); }

std::string header(const HeaderList& headers, std::string_view name) {
    for (const auto& [n, v] : headers)
        if (n.size() == name.size() && std::equal(n.begin(), n.end(), name.begin(), [](char a, char b) {
                return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
            }))
            return v;
    return {};
}

/// A one-request-per-connection HTTP(S) server on 127.0.0.x. `handler` builds the response; when
/// `raw` is set it writes those bytes instead and closes without any TLS close_notify.
class Server {
public:
    using Handler = std::function<Response(const Request&)>;
    using Raw = std::function<std::string(const Request&)>;

    Server(asio::io_context& ioc, Handler handler, std::string bind = "127.0.0.1", std::shared_ptr<ssl::context> tls = nullptr,
           Raw raw = nullptr)
        : state_(std::make_shared<State>(ioc)) {
        state_->handler = std::move(handler);
        state_->raw = std::move(raw);
        state_->tls = std::move(tls);
        tcp::endpoint at(asio::ip::make_address(bind), 0);
        state_->acceptor.open(at.protocol());
        state_->acceptor.set_option(tcp::acceptor::reuse_address(true));
        state_->acceptor.bind(at);
        state_->acceptor.listen();
        port_ = state_->acceptor.local_endpoint().port();
        auto loop = accept_loop(state_);
        asio::co_spawn(ioc, std::move(loop), asio::detached);
    }

    unsigned short port() const { return port_; }
    int connections() const { return state_->connections.load(); }
    std::vector<Request> requests() const {
        std::lock_guard lock(state_->mutex);
        return state_->requests;
    }
    Request last() const {
        auto all = requests();
        REQUIRE(!all.empty());
        return all.back();
    }
    std::string sni() const {
        std::lock_guard lock(state_->mutex);
        return state_->sni;
    }

private:
    struct State {
        explicit State(asio::io_context& ioc) : acceptor(ioc) {}
        tcp::acceptor acceptor;
        Handler handler;
        Raw raw;
        std::shared_ptr<ssl::context> tls;
        std::atomic<int> connections{0};
        mutable std::mutex mutex;
        std::vector<Request> requests;
        std::string sni;
    };

    template <class Stream>
    static asio::awaitable<void> serve(State& st, Stream& stream) {
        beast::flat_buffer buffer;
        Request req;
        auto [ec, n] = co_await http::async_read(stream, buffer, req, asio::as_tuple(asio::use_awaitable));
        (void)n;
        if (ec) co_return;
        {
            std::lock_guard lock(st.mutex);
            st.requests.push_back(req);
        }
        if (st.raw) {
            auto bytes = st.raw(req);
            auto out = asio::buffer(bytes);
            auto [wec, wn] = co_await asio::async_write(stream, out, asio::as_tuple(asio::use_awaitable));
            (void)wec, (void)wn;
            co_return;
        }
        auto res = st.handler(req);
        res.keep_alive(false);
        res.prepare_payload();
        auto [wec, wn] = co_await http::async_write(stream, res, asio::as_tuple(asio::use_awaitable));
        (void)wec, (void)wn;
    }

    static asio::awaitable<void> session(std::shared_ptr<State> st, tcp::socket socket) {
        if (!st->tls) {
            co_await serve(*st, socket);
            boost::system::error_code ignored;
            socket.shutdown(tcp::socket::shutdown_both, ignored);
            co_return;
        }
        ssl::stream<tcp::socket> stream(std::move(socket), *st->tls);
        auto [ec] = co_await stream.async_handshake(ssl::stream_base::server, asio::as_tuple(asio::use_awaitable));
        if (ec) co_return;
        if (const char* name = SSL_get_servername(stream.native_handle(), TLSEXT_NAMETYPE_host_name)) {
            std::lock_guard lock(st->mutex);
            st->sni = name;
        }
        co_await serve(*st, stream);
        boost::system::error_code ignored;
        stream.next_layer().shutdown(tcp::socket::shutdown_both, ignored);
    }

    static asio::awaitable<void> accept_loop(std::shared_ptr<State> st) {
        for (;;) {
            auto [ec, socket] = co_await st->acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
            if (ec) co_return;
            ++st->connections;
            auto s = session(st, std::move(socket));
            asio::co_spawn(st->acceptor.get_executor(), std::move(s), asio::detached);
        }
    }

    std::shared_ptr<State> state_;
    unsigned short port_ = 0;
};

/// An io_context run by two threads (fetches must cope with that) and the servers living on it.
/// The threads stop before any server or client is destroyed.
struct Harness {
    asio::io_context ioc;
    asio::executor_work_guard<asio::io_context::executor_type> work{ioc.get_executor()};
    std::vector<std::unique_ptr<Server>> servers;
    std::vector<std::thread> threads;

    Harness() {
        for (int i = 0; i < 2; ++i) threads.emplace_back([this] { ioc.run(); });
    }
    ~Harness() {
        work.reset();
        ioc.stop();
        for (auto& t : threads) t.join();
    }

    Server& server(Server::Handler handler, std::string bind = "127.0.0.1", std::shared_ptr<ssl::context> tls = nullptr,
                   Server::Raw raw = nullptr) {
        servers.push_back(std::make_unique<Server>(ioc, std::move(handler), std::move(bind), std::move(tls), std::move(raw)));
        return *servers.back();
    }

    HttpClient client(OutboundPolicy policy = {}) { return HttpClient(ioc.get_executor(), std::move(policy)); }
};

FetchResponse fetch(HttpClient& client, Harness& h, FetchRequest req) {
    auto op = client.fetch(std::move(req));
    auto future = asio::co_spawn(h.ioc, std::move(op), asio::use_future);
    return future.get();
}

FetchResponse get(HttpClient& client, Harness& h, std::string url) {
    FetchRequest req;
    req.url = std::move(url);
    return fetch(client, h, std::move(req));
}

/// The OutboundError a fetch ends with (FAIL when it succeeds).
OutboundError failure(HttpClient& client, Harness& h, FetchRequest req) {
    try {
        auto res = fetch(client, h, std::move(req));
        FAIL("expected an OutboundError, got status " << res.status);
    } catch (const OutboundError& e) {
        return e;
    }
    return OutboundError(Kind::protocol, "unreachable");
}

OutboundError failure(HttpClient& client, Harness& h, std::string url) {
    FetchRequest req;
    req.url = std::move(url);
    return failure(client, h, std::move(req));
}

std::string local(const Server& s, std::string_view path = "/", std::string_view host = "127.0.0.1") {
    return "http://" + std::string(host) + ":" + std::to_string(s.port()) + std::string(path);
}

asio::ip::address ip(const char* s) { return asio::ip::make_address(s); }

/// A self-signed certificate for "localhost" (EC P-256, one day), removed afterwards.
struct SelfSigned {
    std::filesystem::path dir;
    std::string cert, key;
    SelfSigned() {
        std::random_device rd;
        dir = std::filesystem::temp_directory_path() / ("arclight-httpc-" + std::to_string(rd()) + std::to_string(rd()));
        std::filesystem::create_directories(dir);
        cert = (dir / "cert.pem").string();
        key = (dir / "key.pem").string();
        auto cmd = "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=localhost "
                   "-addext subjectAltName=DNS:localhost -keyout " + key + " -out " + cert + " >/dev/null 2>&1";
        REQUIRE(std::system(cmd.c_str()) == 0);
    }
    ~SelfSigned() { std::filesystem::remove_all(dir); }
    std::shared_ptr<ssl::context> server_context() const {
        auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
        ctx->use_certificate_chain_file(cert);
        ctx->use_private_key_file(key, ssl::context::pem);
        return ctx;
    }
};

Response echo(const Request& req) {
    HeaderList h{{"X-Method", std::string(req.method_string())}, {"X-Target", std::string(req.target())}};
    return reply(200, req.body(), std::move(h));
}

}  // namespace

TEST_CASE("http client: address_is_internal classifies the address ranges the guard refuses") {
    for (const char* a : {"10.0.0.1", "172.16.5.4", "172.31.255.255", "192.168.1.1", "169.254.169.254", "169.254.0.1",
                          "100.64.0.1", "100.127.255.255", "0.0.0.0", "0.1.2.3", "127.0.0.1", "127.8.9.10", "224.0.0.1",
                          "239.255.255.250", "255.255.255.255", "240.0.0.1", "192.0.0.8", "198.18.0.1", "198.19.255.1",
                          "::", "::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254", "::127.0.0.1",
                          "::10.0.0.1", "64:ff9b::a00:1", "64:ff9b::7f00:1", "64:ff9b:1::1", "2002:7f00:1::",
                          "2002:a9fe:a9fe::1", "fe80::1", "febf::1", "fc00::1", "fd12::1", "fec0::1", "ff02::1", "ff0e::1"}) {
        CAPTURE(a);
        CHECK(address_is_internal(ip(a)));
    }
    for (const char* a : {"8.8.8.8", "1.1.1.1", "172.32.0.1", "172.15.255.255", "100.128.0.1", "100.63.255.255", "192.0.1.1",
                          "198.20.0.1", "169.255.0.1", "223.255.255.255", "2606:4700::1111", "2001:4860:4860::8888",
                          "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1", "fbff::1", "fe00::1"}) {
        CAPTURE(a);
        CHECK_FALSE(address_is_internal(ip(a)));
    }
}

TEST_CASE("http client: allow list entries are CIDR blocks, addresses or host names") {
    asio::io_context ioc;
    OutboundPolicy policy;
    policy.allow = {"10.1.0.0/16", "fd00::/8", "127.0.0.1", "[::1]", "Internal.Example"};
    HttpClient c(ioc.get_executor(), policy);
    CHECK(c.allowed(ip("10.1.2.3"), "x"));
    CHECK(c.allowed(ip("::ffff:10.1.2.3"), "x"));  // the IPv4-mapped form of an allowed address
    CHECK_FALSE(c.allowed(ip("10.2.0.1"), "x"));
    CHECK(c.allowed(ip("fd12::1"), "x"));
    CHECK_FALSE(c.allowed(ip("fc00::1"), "x"));
    CHECK(c.allowed(ip("127.0.0.1"), "x"));
    CHECK_FALSE(c.allowed(ip("127.0.0.2"), "x"));
    CHECK(c.allowed(ip("::1"), "x"));
    CHECK(c.allowed(ip("192.168.1.1"), "internal.example"));  // host entries are case-insensitive
    CHECK(c.allowed(ip("192.168.1.1"), "INTERNAL.EXAMPLE"));
    CHECK_FALSE(c.allowed(ip("192.168.1.1"), "other.example"));
    CHECK(c.allowed(ip("8.8.8.8"), "anything"));  // public addresses need no entry

    HttpClient none(ioc.get_executor(), OutboundPolicy{});
    CHECK_FALSE(none.allowed(ip("127.0.0.1"), "localhost"));
    CHECK(none.allowed(ip("1.1.1.1"), "one.one"));

    for (std::string bad : {"10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/x", "/8", "300.1.1.1", "10.0.0", "not valid!",
                            "", "fe80::1%eth0", "host/8"}) {
        CAPTURE(bad);
        OutboundPolicy p;
        p.allow = {bad};
        const std::string quoted = "'" + bad + "'";
        CHECK_THROWS_WITH_AS(HttpClient(ioc.get_executor(), p), doctest::Contains(quoted.c_str()), std::invalid_argument);
    }
}

TEST_CASE("http client: bad URLs are refused before any I/O") {
    Harness h;
    auto c = h.client();
    for (const char* url : {"ftp://x", "http://", "http:///path", "http://user@host/", "http://user:pw@host/", "file:///etc/passwd",
                            "example.com", "gopher://x/", "http://[::1", "http://[nope]/", "http://host:0/", "http://host:65536/",
                            "http://host:8x/", "http://ho st/", "http://ho%73t/", "http://host/a\r\nX-Injected: 1"}) {
        CAPTURE(url);
        auto e = failure(c, h, url);
        CHECK(e.kind() == Kind::bad_url);
    }
    FetchRequest bad_header;
    bad_header.url = "http://127.0.0.1/";
    bad_header.headers = {{"X-Evil", "a\r\nInjected: 1"}};
    CHECK(failure(c, h, bad_header).kind() == Kind::bad_url);
    FetchRequest bad_method;
    bad_method.url = "http://127.0.0.1/";
    bad_method.method = "GET /x";
    CHECK(failure(c, h, bad_method).kind() == Kind::bad_url);
    CHECK(std::string(to_string(Kind::too_many_redirects)) == "too_many_redirects");
}

TEST_CASE("http client: loopback is refused by default and reachable once allow-listed") {
    Harness h;
    auto& s = h.server([](const Request& req) {
        return reply(200, "hello " + std::string(req.method_string()), {{"X-Reply", "yes"}, {"Content-Type", "text/plain"}});
    });

    auto guarded = h.client();
    auto e = failure(guarded, h, local(s));
    CHECK(e.kind() == Kind::refused);
    CHECK(std::string(e.what()) == "127.0.0.1 is a loopback address");
    CHECK(failure(guarded, h, "http://[::ffff:127.0.0.1]:" + std::to_string(s.port()) + "/").kind() == Kind::refused);
    CHECK(s.connections() == 0);

    for (const char* entry : {"127.0.0.1", "127.0.0.0/8"}) {
        CAPTURE(entry);
        OutboundPolicy policy;
        policy.allow = {entry};
        auto c = h.client(policy);
        auto res = get(c, h, local(s, "/path?q=1"));
        CHECK(res.status == 200);
        CHECK(res.body == "hello GET");
        CHECK(header(res.headers, "x-reply") == "yes");
        CHECK(header(res.headers, "Content-Type") == "text/plain");
        CHECK(res.remote_address == "127.0.0.1");
        CHECK(res.url == local(s, "/path?q=1"));
        auto req = s.last();
        CHECK(req.target() == "/path?q=1");
        CHECK(req[http::field::host] == "127.0.0.1:" + std::to_string(s.port()));
        CHECK(req[http::field::user_agent] == "arclight");
        CHECK(req[http::field::connection] == "close");
    }

    // Request headers: user headers win over the User-Agent default, never over Host / Content-Length.
    OutboundPolicy policy;
    policy.allow = {"127.0.0.1"};
    policy.user_agent = "arclight-test/1";
    auto c = h.client(policy);
    FetchRequest post;
    post.method = "POST";
    post.url = local(s, "/submit");
    post.body = R"({"a":1})";
    post.headers = {{"Content-Type", "application/json"}, {"X-Custom", "1"}, {"Host", "evil.example"}, {"Content-Length", "999"}};
    auto res = fetch(c, h, post);
    CHECK(res.body == "hello POST");
    auto req = s.last();
    CHECK(req.method() == http::verb::post);
    CHECK(req.body() == R"({"a":1})");
    CHECK(req[http::field::content_length] == "7");
    CHECK(req[http::field::host] == "127.0.0.1:" + std::to_string(s.port()));
    CHECK(req[http::field::user_agent] == "arclight-test/1");
    CHECK(req[http::field::content_type] == "application/json");
    CHECK(req["X-Custom"] == "1");

    FetchRequest ua;
    ua.url = local(s);
    ua.headers = {{"user-agent", "mine"}};
    fetch(c, h, ua);
    CHECK(s.last()[http::field::user_agent] == "mine");
    CHECK(s.last().count(http::field::user_agent) == 1);
    CHECK(s.last().count(http::field::content_length) == 0);  // GET without a body
}

TEST_CASE("http client: host names are checked after resolution; a host-name entry allows them") {
    Harness h;
    auto& s = h.server(echo);
    auto guarded = h.client();
    auto e = failure(guarded, h, local(s, "/", "localhost"));
    CHECK(e.kind() == Kind::refused);
    CHECK(std::string(e.what()).starts_with("localhost resolves to "));
    CHECK(std::string(e.what()).find("a loopback address") != std::string::npos);

    OutboundPolicy policy;
    policy.allow = {"LOCALHOST"};
    auto c = h.client(policy);
    auto res = get(c, h, local(s, "/hi", "LocalHost"));
    CHECK(res.status == 200);
    CHECK(res.remote_address == "127.0.0.1");
    CHECK(res.url == local(s, "/hi", "localhost"));
    CHECK(s.last()[http::field::host] == "localhost:" + std::to_string(s.port()));
    // The host-name entry is about the name, not the address: 127.0.0.1 itself stays refused.
    CHECK(failure(c, h, local(s)).kind() == Kind::refused);
}

TEST_CASE("http client: every redirect hop goes through the guard") {
    Harness h;
    auto& target = h.server(echo, "127.0.0.2");  // loopback, but not on the allow list
    const std::string target_url = local(target, "/", "127.0.0.2");
    auto& s = h.server([&](const Request& req) -> Response {
        std::string t(req.target());
        if (t == "/private") return redirect(302, "http://10.0.0.1/");
        if (t == "/metadata") return redirect(307, "http://[::ffff:169.254.169.254]/latest/meta-data/");
        if (t == "/nat64") return redirect(301, "http://[64:ff9b::a9fe:a9fe]/");
        if (t == "/other-loopback") return redirect(302, target_url);
        if (t == "/ftp") return redirect(302, "ftp://example.com/");
        return reply(404, "");
    });
    OutboundPolicy policy;
    policy.allow = {"127.0.0.1"};
    auto c = h.client(policy);

    auto started = std::chrono::steady_clock::now();
    auto e = failure(c, h, local(s, "/private"));
    CHECK(e.kind() == Kind::refused);
    CHECK(std::string(e.what()) == "10.0.0.1 is a private address");
    CHECK(std::string(to_string(e.kind())) + ": " + e.what() == "refused: 10.0.0.1 is a private address");
    CHECK(std::chrono::steady_clock::now() - started < std::chrono::milliseconds(500));  // no connect attempt

    e = failure(c, h, local(s, "/metadata"));
    CHECK(e.kind() == Kind::refused);
    CHECK(std::string(e.what()).find("169.254.169.254") != std::string::npos);
    CHECK(failure(c, h, local(s, "/nat64")).kind() == Kind::refused);

    e = failure(c, h, local(s, "/other-loopback"));
    CHECK(e.kind() == Kind::refused);
    CHECK(std::string(e.what()) == "127.0.0.2 is a loopback address");
    // No connection was attempted: one that is allowed is the first the target accepts (a
    // listener accepts in arrival order).
    OutboundPolicy to_target;
    to_target.allow = {"127.0.0.2"};
    auto direct = h.client(to_target);
    CHECK(get(direct, h, target_url).status == 200);
    CHECK(target.connections() == 1);

    CHECK(failure(c, h, local(s, "/ftp")).kind() == Kind::bad_url);
}

TEST_CASE("http client: redirects are followed up to the limit, relative ones resolved against the current URL") {
    Harness h;
    Server* self = nullptr;
    auto& s = h.server([&](const Request& req) -> Response {
        std::string t(req.target());
        if (t.starts_with("/chain/")) {
            int n = std::stoi(t.substr(7));
            if (n == 0) return reply(200, "end of chain");
            return redirect(302, "/chain/" + std::to_string(n - 1));
        }
        if (t == "/dir/sub/start?x=1") return redirect(301, "../other?q=2#frag");
        if (t == "/see-other") return redirect(303, "/echo");
        if (t == "/found") return redirect(302, "/echo");
        if (t == "/temporary") return redirect(307, "echo");
        if (t == "/to-localhost") return redirect(302, "http://localhost:" + std::to_string(self->port()) + "/echo");
        if (t == "/no-location") return reply(302, "no location");
        return echo(req);
    });
    self = &s;
    OutboundPolicy policy;
    policy.allow = {"127.0.0.1", "localhost"};
    policy.max_redirects = 3;
    auto c = h.client(policy);

    auto res = get(c, h, local(s, "/chain/3"));
    CHECK(res.status == 200);
    CHECK(res.body == "end of chain");
    CHECK(res.url == local(s, "/chain/0"));
    auto e = failure(c, h, local(s, "/chain/4"));
    CHECK(e.kind() == Kind::too_many_redirects);
    CHECK(std::string(e.what()).starts_with("more than 3 redirects"));

    res = get(c, h, local(s, "/dir/sub/start?x=1"));
    CHECK(res.status == 200);
    CHECK(res.url == local(s, "/dir/other?q=2"));
    CHECK(header(res.headers, "X-Target") == "/dir/other?q=2");

    res = get(c, h, local(s, "/no-location"));
    CHECK(res.status == 302);
    CHECK(res.body == "no location");

    // 303 (and 301/302 after POST) continue as GET without the body; 307/308 keep both.
    for (const char* path : {"/see-other", "/found"}) {
        FetchRequest post;
        post.method = "POST";
        post.url = local(s, path);
        post.body = "payload";
        post.headers = {{"Content-Type", "text/plain"}};
        res = fetch(c, h, post);
        CHECK(header(res.headers, "X-Method") == "GET");
        CHECK(res.body.empty());
        CHECK(s.last().count(http::field::content_length) == 0);
        CHECK(s.last().count(http::field::content_type) == 0);
    }
    FetchRequest post;
    post.method = "POST";
    post.url = local(s, "/temporary");
    post.body = "payload";
    res = fetch(c, h, post);
    CHECK(header(res.headers, "X-Method") == "POST");
    CHECK(res.body == "payload");

    // Credentials stay with the origin they were given for.
    FetchRequest auth;
    auth.url = local(s, "/found");
    auth.headers = {{"Authorization", "Bearer secret"}, {"Cookie", "a=b"}, {"X-Keep", "1"}};
    fetch(c, h, auth);
    CHECK(s.last()[http::field::authorization] == "Bearer secret");
    auth.url = local(s, "/to-localhost");
    res = fetch(c, h, auth);
    CHECK(res.url == local(s, "/echo", "localhost"));
    CHECK(s.last().count(http::field::authorization) == 0);
    CHECK(s.last().count(http::field::cookie) == 0);
    CHECK(s.last()["X-Keep"] == "1");

    OutboundPolicy none = policy;
    none.max_redirects = 0;
    auto strict = h.client(none);
    CHECK(failure(strict, h, local(s, "/chain/1")).kind() == Kind::too_many_redirects);
}

TEST_CASE("http client: a server that never answers times out") {
    Harness h;
    // Listening but never accepting: the kernel completes the handshake, nobody ever answers.
    tcp::acceptor silent(h.ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    auto port = silent.local_endpoint().port();
    OutboundPolicy policy;
    policy.allow = {"127.0.0.1"};
    auto c = h.client(policy);
    FetchRequest req;
    req.url = "http://127.0.0.1:" + std::to_string(port) + "/";
    req.timeout_ms = 200;
    auto started = std::chrono::steady_clock::now();
    auto e = failure(c, h, req);
    auto elapsed = std::chrono::steady_clock::now() - started;
    CHECK(e.kind() == Kind::timeout);
    CHECK(std::string(e.what()).find("in time") != std::string::npos);
    CHECK(elapsed >= std::chrono::milliseconds(150));
    CHECK(elapsed < std::chrono::seconds(1));

    policy.default_timeout_ms = 200;  // the policy default applies when the request sets none
    auto d = h.client(policy);
    req.timeout_ms = 0;
    CHECK(failure(d, h, req).kind() == Kind::timeout);
}

TEST_CASE("http client: responses larger than max_response_bytes are refused") {
    Harness h;
    auto& s = h.server([](const Request& req) {
        return reply(200, std::string(req.target() == "/big" ? 2000 : 1000, 'x'));
    });
    OutboundPolicy policy;
    policy.allow = {"127.0.0.1"};
    policy.max_response_bytes = 1000;
    auto c = h.client(policy);
    CHECK(get(c, h, local(s, "/fits")).body.size() == 1000);
    auto e = failure(c, h, local(s, "/big"));
    CHECK(e.kind() == Kind::too_large);
    CHECK(std::string(e.what()).find("exceeds 1000 bytes") != std::string::npos);
}

TEST_CASE("http client: concurrent fetches") {
    Harness h;
    auto& s = h.server(echo);
    OutboundPolicy policy;
    policy.allow = {"127.0.0.1"};
    auto c = h.client(policy);
    std::vector<std::future<FetchResponse>> futures;
    for (int i = 0; i < 16; ++i) {
        FetchRequest req;
        req.method = "PUT";
        req.url = local(s, "/n/" + std::to_string(i));
        req.body = std::to_string(i);
        auto op = c.fetch(std::move(req));
        futures.push_back(asio::co_spawn(h.ioc, std::move(op), asio::use_future));
    }
    for (int i = 0; i < 16; ++i) {
        auto res = futures[i].get();
        CHECK(res.body == std::to_string(i));
        CHECK(header(res.headers, "X-Target") == "/n/" + std::to_string(i));
    }
}

TEST_CASE("http client: TLS verifies the certificate chain and the host name, and sends SNI") {
    SelfSigned pem;
    Harness h;
    auto tls = pem.server_context();
    auto& s = h.server(echo, "127.0.0.1", tls);
    auto& eof = h.server(echo, "127.0.0.1", tls, [](const Request&) { return std::string("HTTP/1.1 200 OK\r\n\r\nuntil eof"); });
    OutboundPolicy policy;
    policy.allow = {"localhost", "127.0.0.1"};
    const std::string https = "https://localhost:" + std::to_string(s.port()) + "/secure";

    // The system store does not know this certificate.
    auto untrusting = h.client(policy);
    auto e = failure(untrusting, h, https);
    CHECK(e.kind() == Kind::tls);
    CHECK(std::string(e.what()).find("self-signed") != std::string::npos);

    // Trusted (SSL_CERT_FILE is read when the client is built): the name must still match.
    ::setenv("SSL_CERT_FILE", pem.cert.c_str(), 1);
    auto trusting = h.client(policy);
    ::unsetenv("SSL_CERT_FILE");
    auto res = get(trusting, h, https);
    CHECK(res.status == 200);
    CHECK(res.url == https);
    CHECK(header(res.headers, "X-Target") == "/secure");
    CHECK(s.sni() == "localhost");
    res = get(trusting, h, "https://localhost:" + std::to_string(eof.port()) + "/");
    CHECK(res.body == "until eof");

    e = failure(trusting, h, "https://127.0.0.1:" + std::to_string(s.port()) + "/");
    CHECK(e.kind() == Kind::tls);
    CHECK(std::string(e.what()).find("mismatch") != std::string::npos);

    // Plain HTTP to the TLS port is not a valid HTTP response.
    e = failure(trusting, h, "http://127.0.0.1:" + std::to_string(s.port()) + "/");
    CHECK(e.kind() == Kind::protocol);
}
