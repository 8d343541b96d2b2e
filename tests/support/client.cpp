#include "tests/support/client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json.hpp>

#include <cctype>
#include <stdexcept>

namespace arclight::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

namespace {
// Status, lower-cased headers and body of a response.
HttpResult to_result(const bhttp::response<bhttp::string_body>& res) {
    HttpResult out;
    out.status = static_cast<int>(res.result_int());
    for (const auto& f : res) {
        std::string name(f.name_string());
        for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        out.headers[name] = std::string(f.value());
    }
    out.body = res.body();
    return out;
}
}  // namespace

boost::json::value HttpResult::json() const { return boost::json::parse(body); }

std::string HttpResult::header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string{} : it->second;
}

HttpResult http(unsigned short port, const std::string& method, const std::string& target, const std::string& body,
                const std::map<std::string, std::string>& headers) {
    asio::io_context ioc;
    beast::tcp_stream stream(ioc);
    stream.expires_after(std::chrono::seconds(10));
    stream.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    bhttp::request<bhttp::string_body> req{bhttp::string_to_verb(method), target, 11};
    req.set(bhttp::field::host, "127.0.0.1");
    for (const auto& [k, v] : headers) req.set(k, v);
    if (!body.empty() && !headers.count("Content-Type")) req.set(bhttp::field::content_type, "application/json");
    req.body() = body;
    req.prepare_payload();
    bhttp::write(stream, req);
    beast::flat_buffer buf;
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    if (method == "HEAD") parser.skip(true);
    bhttp::read(stream, buf, parser);
    auto& res = parser.get();
    HttpResult out = to_result(res);
    beast::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_both, ec);
    return out;
}

struct RawConnection::Impl {
    asio::io_context ioc;
    tcp::socket sock{ioc};
};

RawConnection::RawConnection(unsigned short port) : impl_(std::make_unique<Impl>()) {
    impl_->sock.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
}
RawConnection::~RawConnection() = default;

void RawConnection::send(const std::string& bytes) { asio::write(impl_->sock, asio::buffer(bytes)); }

std::string RawConnection::read_all(std::chrono::milliseconds timeout) {
    std::string out;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    impl_->sock.non_blocking(true);
    char buf[4096];
    while (std::chrono::steady_clock::now() < deadline) {
        beast::error_code ec;
        auto n = impl_->sock.read_some(asio::buffer(buf), ec);
        if (ec == asio::error::would_block) {
            ::usleep(2000);
            continue;
        }
        if (ec) break;
        out.append(buf, n);
    }
    return out;
}

bool RawConnection::closed_within(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    impl_->sock.non_blocking(true);
    char buf[4096];
    while (std::chrono::steady_clock::now() < deadline) {
        beast::error_code ec;
        impl_->sock.read_some(asio::buffer(buf), ec);
        if (ec == asio::error::would_block) {
            ::usleep(2000);
            continue;
        }
        if (ec) return true;
    }
    return false;
}

struct WsClient::Impl {
    asio::io_context ioc;
    websocket::stream<beast::tcp_stream> ws{ioc};
    beast::flat_buffer buf;
    bool closed = false;
};

WsClient::WsClient(unsigned short port, const std::map<std::string, std::string>& headers)
    : impl_(std::make_unique<Impl>()) {
    auto& ws = impl_->ws;
    ws.set_option(websocket::stream_base::decorator([headers](websocket::request_type& req) {
        for (const auto& [k, v] : headers) req.set(k, v);
    }));
    beast::get_lowest_layer(ws).expires_after(std::chrono::seconds(10));
    beast::get_lowest_layer(ws).connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    ws.handshake("127.0.0.1", "/ws");
    beast::get_lowest_layer(ws).expires_never();
}

WsClient::~WsClient() {
    if (!impl_->closed) {
        beast::error_code ec;
        beast::get_lowest_layer(impl_->ws).socket().close(ec);
    }
}

void WsClient::send_text(const std::string& text) {
    impl_->ws.text(true);
    impl_->ws.write(asio::buffer(text));
}

void WsClient::send_binary(const std::string& bytes) {
    impl_->ws.binary(true);
    impl_->ws.write(asio::buffer(bytes));
}

bool WsClient::ping() {
    beast::error_code ec;
    impl_->ws.ping({}, ec);
    return !ec;
}

bool WsClient::pong() {
    beast::error_code ec;
    impl_->ws.pong({}, ec);
    return !ec;
}

std::optional<std::string> WsClient::read(std::chrono::milliseconds timeout) {
    if (impl_->closed) return std::nullopt;
    impl_->buf.clear();
    std::optional<std::string> result;
    bool done = false;
    impl_->ws.async_read(impl_->buf, [&](beast::error_code ec, std::size_t) {
        done = true;
        if (ec) {
            impl_->closed = true;
            return;
        }
        result = beast::buffers_to_string(impl_->buf.data());
    });
    impl_->ioc.restart();
    impl_->ioc.run_for(timeout);
    if (!done) {
        // Timed out: cancel the read and let the handler run.
        beast::get_lowest_layer(impl_->ws).cancel();
        impl_->ioc.restart();
        impl_->ioc.run();
        impl_->closed = true;  // a cancelled websocket read leaves the stream unusable
        return std::nullopt;
    }
    return result;
}

std::optional<boost::json::value> WsClient::read_type(const std::string& type, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) return std::nullopt;
        auto msg = read(left);
        if (!msg) return std::nullopt;
        auto v = boost::json::parse(*msg);
        if (v.is_object() && v.as_object().contains("type") && v.at("type").as_string() == type) return v;
    }
}

std::optional<int> WsClient::close_code() const {
    auto r = impl_->ws.reason();
    if (r.code == websocket::close_code::none) return std::nullopt;
    return static_cast<int>(r.code);
}

std::string WsClient::close_reason() const { return std::string(impl_->ws.reason().reason.c_str()); }

}  // namespace arclight::test

#include <boost/asio/ssl.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket/ssl.hpp>

namespace arclight::test {

HttpResult https(unsigned short port, const std::string& method, const std::string& target, const std::string& body,
                 const std::map<std::string, std::string>& headers) {
    asio::io_context ioc;
    asio::ssl::context ctx(asio::ssl::context::tls_client);
    ctx.set_verify_mode(asio::ssl::verify_none);
    beast::ssl_stream<beast::tcp_stream> stream(ioc, ctx);
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(10));
    beast::get_lowest_layer(stream).connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    stream.handshake(asio::ssl::stream_base::client);
    bhttp::request<bhttp::string_body> req{bhttp::string_to_verb(method), target, 11};
    req.set(bhttp::field::host, "127.0.0.1:" + std::to_string(port));
    for (const auto& [k, v] : headers) req.set(k, v);
    if (!body.empty()) req.set(bhttp::field::content_type, "application/json");
    req.body() = body;
    req.prepare_payload();
    bhttp::write(stream, req);
    beast::flat_buffer buf;
    bhttp::response<bhttp::string_body> res;
    bhttp::read(stream, buf, res);
    HttpResult out = to_result(res);
    return out;
}

std::string wss_ping(unsigned short port, const std::map<std::string, std::string>& headers) {
    asio::io_context ioc;
    asio::ssl::context ctx(asio::ssl::context::tls_client);
    ctx.set_verify_mode(asio::ssl::verify_none);
    websocket::stream<beast::ssl_stream<beast::tcp_stream>> ws(ioc, ctx);
    beast::get_lowest_layer(ws).expires_after(std::chrono::seconds(10));
    beast::get_lowest_layer(ws).connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    ws.next_layer().handshake(asio::ssl::stream_base::client);
    ws.set_option(websocket::stream_base::decorator([headers](websocket::request_type& req) {
        for (const auto& [k, v] : headers) req.set(k, v);
    }));
    ws.handshake("127.0.0.1:" + std::to_string(port), "/ws");
    ws.text(true);
    ws.write(asio::buffer(std::string(R"({"type":"ping"})")));
    beast::flat_buffer buf;
    ws.read(buf);
    return beast::buffers_to_string(buf.data());
}

std::map<std::string, std::string> login_headers(unsigned short port, const std::string& username, const std::string& password) {
    auto l = http(port, "POST", "/api/v1/auth/login",
                  boost::json::serialize(boost::json::object{{"username", username}, {"password", password}}));
    if (l.status != 200) throw std::runtime_error("login of " + username + " answered " + std::to_string(l.status) + ": " + l.body);
    auto c = l.header("set-cookie");
    return {{"Cookie", c.substr(0, c.find(';'))}, {"X-CSRF-Token", std::string(l.json().at("csrf_token").as_string())}};
}

}  // namespace arclight::test
