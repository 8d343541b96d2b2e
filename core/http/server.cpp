#include "core/http/server.hpp"

#include "core/http/forwarded.hpp"
#include "core/util/redact.hpp"
#include "core/http/json_strict.hpp"

#include "core/log/log.hpp"
#include "core/util/ids.hpp"
#include "core/util/text.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <boost/json/parse.hpp>

namespace arclight {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

struct HttpServer::SessionCtl {
    asio::any_io_executor executor;
    beast::tcp_stream* stream = nullptr;  // valid while registered; touched only on `executor`
    bool busy = false;                    // a request is being processed (touched only on `executor`)
};

namespace {

// nosniff on every response; the document-level headers only where a browser renders a document
// (HTML), which keeps API responses small.
void add_security_headers(http::response<http::string_body>& res, std::string_view content_type) {
    res.set("X-Content-Type-Options", "nosniff");
    if (content_type.rfind("text/html", 0) != 0) return;
    res.set("X-Frame-Options", "DENY");
    res.set("Referrer-Policy", "no-referrer");
    res.set("Cross-Origin-Opener-Policy", "same-origin");
    // Scripts only from the server's own files (no inline script, no eval), no plugins, network
    // only to the server itself ('self' covers its own ws:/wss: origin); inline style attributes
    // stay allowed (the flow graph positions its nodes with them).
    res.set("Content-Security-Policy",
            "default-src 'self'; script-src 'self'; object-src 'none'; connect-src 'self'; img-src 'self' data:; "
            "style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'");
}

bool valid_request_id(std::string_view id) {
    if (id.empty() || id.size() > 64) return false;
    for (char c : id) {
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) return false;
    }
    return true;
}

// Framing the server refuses, from a parsed request head (issue 19: request smuggling). Beast
// implements one transfer coding, chunked, and reads a request whose last coding is something
// else as having no body, so the body would be read as the next request: answered 501 (a coding
// it does not implement) and the connection closed, as is a length given two ways (Content-Length
// beside Transfer-Encoding, or Transfer-Encoding twice: 400). A flood of small fields is refused
// by their count (431), and a method the server does not implement is 501.
std::optional<HttpResponse> refuse_framing(const http::request<http::string_body>& msg, std::size_t max_fields,
                                           const HttpRequest& req) {
    std::size_t fields = 0, codings = 0;
    bool has_length = false;
    std::string_view coding;
    for (const auto& f : msg) {
        ++fields;
        if (f.name() == http::field::transfer_encoding) {
            ++codings;
            coding = f.value();
        } else if (f.name() == http::field::content_length) {
            has_length = true;
        }
    }
    if (fields > max_fields)
        return HttpResponse::problem(ErrorCode::header_fields_too_large,
                                     fmt::format("the request has {} header fields; at most {} are accepted", fields, max_fields),
                                     req);
    if (codings > 1) return HttpResponse::problem(ErrorCode::bad_request, "Transfer-Encoding is given more than once", req);
    if (codings == 1) {
        while (!coding.empty() && (coding.front() == ' ' || coding.front() == '\t')) coding.remove_prefix(1);
        while (!coding.empty() && (coding.back() == ' ' || coding.back() == '\t')) coding.remove_suffix(1);
        if (!beast::iequals(coding, "chunked"))
            return HttpResponse::problem(ErrorCode::not_implemented,
                                         "transfer coding not implemented: only \"Transfer-Encoding: chunked\" is accepted", req);
        if (has_length)
            return HttpResponse::problem(ErrorCode::bad_request, "both Transfer-Encoding and Content-Length are given", req);
    }
    switch (msg.method()) {
    case http::verb::get:
    case http::verb::head:
    case http::verb::post:
    case http::verb::put:
    case http::verb::patch:
    case http::verb::delete_:
    case http::verb::options:
        return std::nullopt;
    default:
        return HttpResponse::problem(ErrorCode::not_implemented,
                                     fmt::format("method {} is not implemented", to_storable_text(std::string(msg.method_string()).substr(0, 32))),
                                     req);
    }
}

// The client a trusted proxy names (server.trusted_proxies) in the header it writes
// (server.forwarded_header); each header's lines joined as one list.
void apply_forwarding(HttpRequest& req, const http::request<http::string_body>& msg, const ServerOptions& options) {
    ForwardingHeaders h;
    auto add = [](std::string& to, std::string_view v) {
        if (!to.empty()) to += ", ";
        to.append(v.data(), v.size());
    };
    for (const auto& f : msg) {
        auto name = f.name_string();
        if (beast::iequals(name, "X-Forwarded-For")) add(h.x_forwarded_for, f.value());
        else if (beast::iequals(name, "X-Forwarded-Proto")) add(h.x_forwarded_proto, f.value());
        else if (beast::iequals(name, "Forwarded")) add(h.forwarded, f.value());
    }
    auto origin = resolve_client(req.peer_address, h, options.trusted_proxies, options.forwarded_header);
    req.remote_address = std::move(origin.address);
    if (!origin.scheme.empty()) req.scheme = std::move(origin.scheme);
}

bool is_json_content_type(std::string_view ct) {
    auto semi = ct.find(';');
    auto base = ct.substr(0, semi);
    while (!base.empty() && base.back() == ' ') base.remove_suffix(1);
    std::string lower;
    for (char c : base) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return lower == "application/json" || (lower.size() > 5 && lower.ends_with("+json"));
}

}  // namespace

HttpServer::HttpServer(asio::io_context& ioc, const Router& router, WsHub& ws, const StaticFiles* ui,
                       const AccessControl& access, ServerOptions options)
    : ioc_(ioc), router_(router), ws_(ws), ui_(ui), access_(access), options_(std::move(options)) {
    id_prefix_ = new_uuid().substr(0, 8) + "-";
    if (!options_.tls_cert.empty()) {
        tls_ = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
        tls_->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                          asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1 |
                          asio::ssl::context::single_dh_use);
        boost::system::error_code ec;
        tls_->use_certificate_chain_file(options_.tls_cert, ec);
        if (ec) throw std::runtime_error(fmt::format("server.tls_cert {}: {}", options_.tls_cert, ec.message()));
        tls_->use_private_key_file(options_.tls_key, asio::ssl::context::pem, ec);
        if (ec) throw std::runtime_error(fmt::format("server.tls_key {}: {}", options_.tls_key, ec.message()));
    }
}

HttpServer::~HttpServer() = default;

unsigned short HttpServer::listen() {
    auto addr = asio::ip::make_address(options_.host);
    tcp::endpoint ep(addr, options_.port);
    acceptor_ = std::make_unique<tcp::acceptor>(asio::make_strand(ioc_));
    acceptor_->open(ep.protocol());
    acceptor_->set_option(asio::socket_base::reuse_address(true));
    acceptor_->bind(ep);
    acceptor_->listen(asio::socket_base::max_listen_connections);
    return acceptor_->local_endpoint().port();
}

void HttpServer::start() { asio::co_spawn(acceptor_->get_executor(), accept_loop(), asio::detached); }

asio::awaitable<void> HttpServer::accept_loop() {
    while (!stopping_) {
        auto [ec, socket] = co_await acceptor_->async_accept(asio::make_strand(ioc_), asio::as_tuple(asio::use_awaitable));
        if (ec) {
            if (stopping_ || ec == asio::error::operation_aborted) break;
            log::warn("http", "accept failed: {}", ec.message());
            continue;
        }
        socket.set_option(tcp::no_delay(true), ec);
        auto ex = socket.get_executor();
        asio::co_spawn(ex, session(std::move(socket)), asio::detached);
    }
}

std::size_t HttpServer::active_sessions() const {
    std::lock_guard lk(mu_);
    return sessions_.size();
}

void HttpServer::shutdown(std::chrono::steady_clock::time_point deadline) {
    stopping_ = true;
    if (acceptor_) {
        asio::post(acceptor_->get_executor(), [this] {
            beast::error_code ec;
            acceptor_->close(ec);
        });
    }
    ws_.close_all();
    auto close_idle = [this](bool force) {
        std::lock_guard lk(mu_);
        for (auto& s : sessions_) {
            asio::post(s->executor, [s, force] {
                if (s->stream && (force || !s->busy)) s->stream->socket().close();
            });
        }
    };
    close_idle(false);
    std::unique_lock lk(mu_);
    // Re-check idle sessions now and then: one that was busy becomes idle when its response is written.
    while (!sessions_.empty() && std::chrono::steady_clock::now() < deadline) {
        cv_.wait_until(lk, std::min(deadline, std::chrono::steady_clock::now() + std::chrono::milliseconds(50)));
    }
    if (!sessions_.empty()) {
        log::warn("http", "closing {} connections still open at the shutdown deadline", sessions_.size());
        lk.unlock();
        close_idle(true);
        lk.lock();
        cv_.wait_for(lk, std::chrono::seconds(2), [this] { return sessions_.empty(); });
    }
}

asio::awaitable<void> HttpServer::session(tcp::socket socket) {
    if (!tls_) {
        beast::tcp_stream stream(std::move(socket));
        co_await serve(stream);
        co_return;
    }
    beast::ssl_stream<beast::tcp_stream> stream(std::move(socket), *tls_);
    beast::get_lowest_layer(stream).expires_after(options_.read_timeout);
    auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::server, asio::as_tuple(asio::use_awaitable));
    if (ec) {
        log::debug("http", "TLS handshake failed: {}", ec.message());
        co_return;
    }
    co_await serve(stream);
}

template <class Stream>
asio::awaitable<void> HttpServer::serve(Stream& stream) {
    auto& lowest = beast::get_lowest_layer(stream);
    auto ctl = std::make_shared<SessionCtl>();
    ctl->executor = stream.get_executor();
    ctl->stream = &lowest;
    std::list<std::shared_ptr<SessionCtl>>::iterator self;
    {
        std::lock_guard lk(mu_);
        sessions_.push_front(ctl);
        self = sessions_.begin();
    }
    struct Unregister {
        Unregister(HttpServer* srv, std::shared_ptr<SessionCtl> c, std::list<std::shared_ptr<SessionCtl>>::iterator i)
            : s(srv), ctl(std::move(c)), it(i) {}
        Unregister(const Unregister&) = delete;
        Unregister& operator=(const Unregister&) = delete;
        HttpServer* s;
        std::shared_ptr<SessionCtl> ctl;
        std::list<std::shared_ptr<SessionCtl>>::iterator it;
        ~Unregister() {
            ctl->stream = nullptr;
            std::lock_guard lk(s->mu_);
            s->sessions_.erase(it);
            s->cv_.notify_all();
        }
    };
    std::optional<Unregister> unreg;
    unreg.emplace(this, ctl, self);

    beast::error_code ec;
    std::string remote = lowest.socket().remote_endpoint(ec).address().to_string();
    // Behind a trusted proxy every request of the connection names its own client.
    const bool peer_is_proxy = options_.trusted_proxies.contains(std::string_view(remote));
    beast::flat_buffer buffer(options_.max_header_bytes + options_.max_body_bytes + 4096);
    bool upgraded = false;

    while (!stopping_) {
        // Keep-alive idle wait: no request byte within idle_timeout closes the connection.
        if (buffer.size() == 0) {
            lowest.expires_after(options_.idle_timeout);
            auto [rec, n] = co_await stream.async_read_some(buffer.prepare(4096), asio::as_tuple(asio::use_awaitable));
            if (rec) break;
            buffer.commit(n);
        }
        ctl->busy = true;
        // Once a request started, all of it must arrive within read_timeout (a client sending one
        // byte a second cannot hold the connection).
        lowest.expires_after(options_.read_timeout);
        http::request_parser<http::string_body> parser;
        parser.header_limit(static_cast<std::uint32_t>(options_.max_header_bytes));
        parser.body_limit(options_.max_body_bytes);
        auto [rec, n] = co_await http::async_read(stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
        auto started = std::chrono::steady_clock::now();

        HttpRequest req;
        std::string_view incoming_id;
        if (!rec) {
            auto v = parser.get()["X-Request-Id"];
            incoming_id = std::string_view(v.data(), v.size());
        }
        req.request_id = valid_request_id(incoming_id)
                             ? std::string(incoming_id)
                             : id_prefix_ + std::to_string(next_id_.fetch_add(1, std::memory_order_relaxed));
        req.remote_address = req.peer_address = remote;
        if (tls_) req.scheme = "https";
        if (peer_is_proxy && !rec) apply_forwarding(req, parser.get(), options_);
        HttpResponse out;
        bool close_after = false;
        unsigned version = 11;

        if (rec) {
            if (rec == beast::error::timeout) {
                out = HttpResponse::problem(ErrorCode::request_timeout, "the request was not received in time", req);
            } else if (rec == http::error::header_limit) {
                out = HttpResponse::problem(ErrorCode::header_fields_too_large,
                                            fmt::format("request headers exceed {} bytes", options_.max_header_bytes), req);
            } else if (rec == http::error::body_limit) {
                out = HttpResponse::problem(ErrorCode::payload_too_large,
                                            fmt::format("request body exceeds {} bytes", options_.max_body_bytes), req);
            } else if (rec == http::error::end_of_stream || rec == asio::error::eof ||
                       rec == asio::error::operation_aborted || rec == asio::error::connection_reset) {
                break;
            } else if (auto refused = parser.is_header_done() ? refuse_framing(parser.get(), options_.max_header_fields, req)
                                                                : std::nullopt) {
                out = std::move(*refused);  // what made the body unreadable, said precisely
            } else {
                out = HttpResponse::problem(ErrorCode::bad_request, "malformed HTTP request: " + rec.message(), req);
            }
            close_after = true;
            if (rec == beast::error::timeout) {
                // The socket's timer fired and closed the socket already: nothing can be written.
                log::info("http", "{} closed: request not received within {} ms", remote, options_.read_timeout.count());
                break;
            }
        } else {
            auto& msg = parser.get();
            version = msg.version();
            std::optional<HttpResponse> refused = refuse_framing(msg, options_.max_header_fields, req);
            bool upgrade = !refused && beast::websocket::is_upgrade(msg) && msg.target() == "/ws";
            if (upgrade && access_.installed()) {
                req.method = "GET";
                req.target = req.path = "/ws";
                for (const auto& f : msg) req.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
                try {
                    refused = co_await access_.check()(nullptr, req);
                } catch (const Error& e) {
                    refused = HttpResponse::problem(e.code(), e.detail(), req, e.errors());
                }
                if (refused) upgrade = false;
            }
            if (upgrade) {
                ctl->busy = false;
                ctl->stream = nullptr;
                unreg.reset();  // WebSocket connections are tracked by the hub
                upgraded = true;
                auto principal = req.principal;
                auto upgrade_request = parser.release();
                WsHub::Recheck recheck;
                if (access_.installed()) {
                    // The upgrade's credential, checked again as the upgrade was (the access check
                    // of the request's headers). Only a refusal of the credential (4xx) ends the
                    // socket: a database that is away (503) is not the credential's end.
                    HttpRequest again = req;
                    again.principal = nullptr;
                    recheck = [this, again = std::move(again)]() -> asio::awaitable<WsHub::Rechecked> {
                        HttpRequest r = again;
                        try {
                            auto refused = co_await access_.check()(nullptr, r);
                            if (!refused) co_return WsHub::Rechecked{true, r.principal};
                            co_return WsHub::Rechecked{refused->status >= 500, nullptr};
                        } catch (const Error& e) {
                            co_return WsHub::Rechecked{error_info(e.code()).status >= 500, nullptr};
                        } catch (const std::exception&) {
                            co_return WsHub::Rechecked{true, nullptr};
                        }
                    };
                }
                co_await ws_.run_session(std::move(stream), std::move(upgrade_request), std::move(principal), std::move(recheck));
                co_return;
            }
            if (refused) {
                out = std::move(*refused);
                close_after = true;
            } else {
                req.method = std::string(msg.method_string());
                req.target = std::string(msg.target());
                auto q = req.target.find('?');
                auto decoded = url_decode(std::string_view(req.target).substr(0, q), false);
                if (q != std::string::npos) req.query = req.target.substr(q + 1);
                for (const auto& f : msg) req.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
                req.body = std::move(msg.body());
                close_after = !msg.keep_alive();
                if (!decoded || decoded->empty() || (*decoded)[0] != '/') {
                    req.path = req.target;
                    out = HttpResponse::problem(ErrorCode::bad_request, "malformed request target", req);
                } else {
                    req.path = std::move(*decoded);
                    RouteMatch m;
                    if (auto now = dispatch_now(req, m)) {
                        out = std::move(*now);
                    } else {
                        out = co_await dispatch(req, *m.route);
                    }
                }
            }
        }

        http::response<http::string_body> res{static_cast<http::status>(out.status), version};
        res.set(http::field::content_type, out.content_type);
        res.set("X-Request-Id", req.request_id);
        add_security_headers(res, out.content_type);
        bool has_cache_control = false;
        for (auto& [k, v] : out.headers) {
            if (beast::iequals(k, "Cache-Control")) has_cache_control = true;
            res.insert(k, v);
        }
        if (!has_cache_control) res.set(http::field::cache_control, "no-store");
        if (tls_) res.set(http::field::strict_transport_security, "max-age=31536000");
        if (req.method == "HEAD") {
            res.content_length(out.body.size());
        } else {
            res.body() = std::move(out.body);
            res.prepare_payload();
        }
        if (stopping_) close_after = true;
        res.keep_alive(!close_after);
        // A response that fits the socket's send buffer is written without waiting for the client,
        // so it needs no timer (arming one per response is measurable at 60k requests/s); a larger
        // one must be taken by the client within read_timeout.
        if (res.body().size() <= 16 * 1024) {
            lowest.expires_never();
        } else {
            lowest.expires_after(options_.read_timeout);
        }
        http::response_serializer<http::string_body> sr(res);
        if (req.method == "HEAD") sr.split(true);
        auto [wec, wn] = req.method == "HEAD"
                             ? co_await http::async_write_header(stream, sr, asio::as_tuple(asio::use_awaitable))
                             : co_await http::async_write(stream, sr, asio::as_tuple(asio::use_awaitable));
        if (options_.access_log) {
            auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started).count();
            // Query parameters named like credentials (token, key, secret, signature, ...) hidden.
            auto target = redact_target(req.target);
            if (req.remote_address == remote) {
                log::info("access", "{} \"{} {}\" {} {}B {}us id={}", remote, req.method, target, out.status,
                          res.payload_size().value_or(0), us, req.request_id);
            } else {
                log::info("access", "{} \"{} {}\" {} {}B {}us id={} via={}", req.remote_address, req.method, target,
                          out.status, res.payload_size().value_or(0), us, req.request_id, remote);
            }
        }
        ctl->busy = false;
        if (wec || close_after) break;
    }
    if (!upgraded) {
        lowest.socket().shutdown(tcp::socket::shutdown_send, ec);
        // Lingering close: a client still sending (the rest of a body refused with 413) would get
        // a reset for the unread input, and a reset can destroy the answer before the client
        // reads it. Read and discard until the client closes, up to 2 s and 64 MiB.
        if (lowest.socket().is_open()) {
            lowest.expires_after(std::chrono::seconds(2));
            std::size_t drained = 0;
            static thread_local char sink[16384];
            while (drained < (std::size_t{64} << 20)) {
                auto [rec, n] = co_await lowest.async_read_some(asio::buffer(sink), asio::as_tuple(asio::use_awaitable));
                if (rec) break;
                drained += n;
            }
        }
        lowest.socket().close(ec);
    }
}

namespace {
// Paths under /api in any letter case (and /api itself) are the API's: one that matches no route
// is a 404 problem, never the UI page.
bool api_path(std::string_view path) {
    if (path.size() < 4 || path[0] != '/') return false;
    for (std::size_t i = 0; i < 3; ++i)
        if ((path[1 + i] | 0x20) != "api"[i]) return false;
    return path.size() == 4 || path[4] == '/';
}
}  // namespace

std::optional<HttpResponse> HttpServer::dispatch_now(HttpRequest& req, RouteMatch& m) {
    m = router_.match(req.method, req.path);
    if (!m.route) {
        if ((req.method == "GET" || req.method == "HEAD") && ui_ && !api_path(req.path)) {
            if (auto r = ui_->serve(req.path, req.header("Accept-Encoding"))) return r;
        }
        if (m.path_known) {
            auto r = HttpResponse::problem(ErrorCode::method_not_allowed,
                                           fmt::format("{} is not allowed on {}", req.method, req.path), req);
            std::string allow;
            for (const auto& a : m.allowed) allow += (allow.empty() ? "" : ", ") + a;
            r.headers.emplace_back("Allow", allow);
            return r;
        }
        return HttpResponse::problem(ErrorCode::not_found, fmt::format("no resource at {}", req.path), req);
    }
    // A path parameter that is not text names nothing that can exist (and must not reach a query).
    for (const auto& [name, value] : m.params) {
        if (!storable_text(value))
            return HttpResponse::problem(ErrorCode::bad_request,
                                         fmt::format("the path parameter {} is not valid UTF-8 text", name), req);
    }
    req.params = std::move(m.params);
    if (m.route->sync_handler) {
        try {
            return m.route->sync_handler(req);
        } catch (const std::exception& e) {
            log::error("http", "{} {} failed (request {}): {}", req.method, req.path, req.request_id, e.what());
            return HttpResponse::problem(ErrorCode::internal,
                                         "the server could not complete the request; quote the request id when reporting it",
                                         req);
        }
    }
    return std::nullopt;
}

asio::awaitable<HttpResponse> HttpServer::dispatch(HttpRequest& req, const Route& route) {
    try {
        if (access_.installed() && route.permission != kPublic) {
            if (auto r = co_await access_.check()(&route, req)) co_return std::move(*r);
        }
        if (route.json_body) {
            if (!req.body.empty() && !is_json_content_type(req.header("Content-Type"))) {
                co_return HttpResponse::problem(ErrorCode::unsupported_media_type,
                                                "the request body must be JSON (Content-Type: application/json)", req);
            }
            if (!req.body.empty()) req.json = parse_request_json(req.body);
        }
        co_return co_await route.handler(req);
    } catch (const Error& e) {
        auto r = HttpResponse::problem(e.code(), e.detail(), req, e.errors());
        for (const auto& h : e.headers()) r.headers.push_back(h);
        co_return r;
    } catch (const std::exception& e) {
        log::error("http", "{} {} failed (request {}): {}", req.method, req.path, req.request_id, e.what());
    }
    co_return HttpResponse::problem(ErrorCode::internal,
                                    "the server could not complete the request; quote the request id when reporting it", req);
}

}  // namespace arclight
