// The workflow module's outbound HTTP client: URL parsing, the SSRF guard, DNS with a deadline,
// TCP/TLS connect, one HTTP/1.1 exchange per hop (Connection: close) and redirect handling.
//
// Every fetch runs on a strand of its own (co_spawn onto make_strand(io)), so the resolve
// watchdog, the tcp_stream timers and the coroutine itself never run concurrently even on a
// multi-threaded io_context. The only state shared between fetches is the read-only policy and
// allow list, and the ssl::context (creating streams from one SSL_CTX is thread-safe).
#include "core/net/http_client.hpp"

#include "core/util/address_block.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>

namespace arclight::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;
using Kind = OutboundError::Kind;
using Clock = std::chrono::steady_clock;
using Deadline = std::optional<Clock::time_point>;

const char* to_string(OutboundError::Kind kind) {
    switch (kind) {
        case Kind::bad_url: return "bad_url";
        case Kind::refused: return "refused";
        case Kind::dns: return "dns";
        case Kind::connect: return "connect";
        case Kind::tls: return "tls";
        case Kind::timeout: return "timeout";
        case Kind::protocol: return "protocol";
        case Kind::too_large: return "too_large";
        case Kind::too_many_redirects: return "too_many_redirects";
    }
    return "unknown";
}

namespace {

/// Messages do not repeat the kind: callers show them as "<kind>: <message>", e.g.
/// "refused: example.internal resolves to 10.0.0.5, a private address".
[[noreturn]] void fail(Kind kind, const std::string& message) { throw OutboundError(kind, message); }

constexpr std::uint32_t kHeaderLimit = 64 * 1024;
constexpr int kMaxInterimResponses = 8;

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string lowercase(std::string_view s) {
    std::string out(s);
    for (auto& c : out) c = lower(c);
    return out;
}

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (lower(a[i]) != lower(b[i])) return false;
    return true;
}

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

/// RFC 9110 token characters (method and header names).
bool is_tchar(char c) {
    return is_alpha(c) || is_digit(c) || std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool is_token(std::string_view s) { return !s.empty() && std::all_of(s.begin(), s.end(), is_tchar); }

/// A DNS name as the client accepts it in URLs and allow-list entries (IDNs must be punycode).
bool is_host_name(std::string_view s) {
    if (s.empty() || s.size() > 253) return false;
    return std::all_of(s.begin(), s.end(), [](char c) { return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_'; });
}

// ------------------------------------------------------------------------------------------------
// URLs

struct Url {
    std::string scheme;      ///< "http" or "https"
    std::string host;        ///< lowercase; IPv6 literals without brackets
    std::optional<asio::ip::address> literal;  ///< set when host is an IP literal
    std::uint16_t port = 0;
    std::string target;      ///< path + query, never empty

    bool tls() const { return scheme == "https"; }
    std::uint16_t default_port() const { return tls() ? 443 : 80; }
    std::string host_for_url() const { return literal && literal->is_v6() ? "[" + host + "]" : host; }
    /// The Host header / URL authority: host plus the port when it is not the scheme's default.
    std::string authority() const {
        auto a = host_for_url();
        if (port != default_port()) a += ":" + std::to_string(port);
        return a;
    }
    std::string str() const { return scheme + "://" + authority() + target; }
    bool same_origin(const Url& o) const { return scheme == o.scheme && host == o.host && port == o.port; }
};

/// Path and query: control characters are refused, spaces and non-ASCII bytes percent-encoded.
std::string clean_target(std::string_view raw, std::string_view url) {
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(raw.size() + 1);
    if (raw.empty() || raw.front() != '/') out += '/';
    for (char ch : raw) {
        auto c = static_cast<unsigned char>(ch);
        if (c < 0x20 || c == 0x7f) fail(Kind::bad_url, "control character in URL " + std::string(url));
        if (c == ' ' || c >= 0x80) {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 0xf];
        } else {
            out += ch;
        }
    }
    return out;
}

Url parse_url(std::string_view in) {
    const std::string quoted = "'" + std::string(in.substr(0, 200)) + "'";
    auto colon = in.find("://");
    if (colon == std::string_view::npos) fail(Kind::bad_url, "not an absolute http(s) URL: " + quoted);
    Url u;
    u.scheme = lowercase(in.substr(0, colon));
    if (u.scheme != "http" && u.scheme != "https")
        fail(Kind::bad_url, "unsupported scheme '" + u.scheme + "' (only http and https): " + quoted);
    auto rest = in.substr(colon + 3);
    auto end = rest.find_first_of("/?#");
    auto authority = rest.substr(0, end);
    auto tail = end == std::string_view::npos ? std::string_view() : rest.substr(end);
    if (auto hash = tail.find('#'); hash != std::string_view::npos) tail = tail.substr(0, hash);
    if (authority.find('@') != std::string_view::npos)
        fail(Kind::bad_url, "credentials in the URL (user@host) are not supported: " + quoted);

    std::string_view host, port;
    if (!authority.empty() && authority.front() == '[') {
        auto close = authority.find(']');
        if (close == std::string_view::npos) fail(Kind::bad_url, "unterminated IPv6 literal: " + quoted);
        host = authority.substr(1, close - 1);
        auto after = authority.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':') fail(Kind::bad_url, "bad authority: " + quoted);
            port = after.substr(1);
        }
        boost::system::error_code ec;
        auto v6 = asio::ip::make_address_v6(std::string(host), ec);
        if (ec || host.find('%') != std::string_view::npos) fail(Kind::bad_url, "bad IPv6 literal: " + quoted);
        u.literal = asio::ip::address(v6);
        u.host = v6.to_string();
    } else {
        auto c = authority.find(':');
        host = authority.substr(0, c);
        if (c != std::string_view::npos) port = authority.substr(c + 1);
        if (host.empty()) fail(Kind::bad_url, "no host: " + quoted);
        if (!is_host_name(host)) fail(Kind::bad_url, "bad host name: " + quoted);
        u.host = lowercase(host);
        boost::system::error_code ec;
        auto v4 = asio::ip::make_address_v4(u.host, ec);
        if (!ec) u.literal = asio::ip::address(v4);
    }
    u.port = u.default_port();
    if (!port.empty()) {
        if (port.size() > 5 || !std::all_of(port.begin(), port.end(), is_digit)) fail(Kind::bad_url, "bad port: " + quoted);
        auto p = std::stoul(std::string(port));
        if (p == 0 || p > 65535) fail(Kind::bad_url, "bad port: " + quoted);
        u.port = static_cast<std::uint16_t>(p);
    }
    u.target = clean_target(tail, in);
    return u;
}

/// RFC 3986 section 5.2.4.
std::string remove_dot_segments(std::string_view path) {
    std::string out;
    while (!path.empty()) {
        if (path.starts_with("../")) path.remove_prefix(3);
        else if (path.starts_with("./")) path.remove_prefix(2);
        else if (path.starts_with("/./")) path.remove_prefix(2);
        else if (path == "/.") path = "/";
        else if (path.starts_with("/../") || path == "/..") {
            if (path == "/..") path = "/";
            else path.remove_prefix(3);
            auto slash = out.rfind('/');
            out.erase(slash == std::string::npos ? 0 : slash);
        } else if (path == "." || path == "..") {
            path = {};
        } else {
            auto next = path.find('/', 1);
            out += path.substr(0, next);
            path = next == std::string_view::npos ? std::string_view() : path.substr(next);
        }
    }
    return out;
}

/// The target of a redirect: `location` resolved against `base` (RFC 3986 section 5.2).
Url resolve_reference(const Url& base, std::string_view location) {
    if (auto hash = location.find('#'); hash != std::string_view::npos) location = location.substr(0, hash);
    // An absolute URL: "scheme:..."
    auto first_delim = location.find_first_of(":/?");
    if (first_delim != std::string_view::npos && location[first_delim] == ':' && first_delim > 0 &&
        is_alpha(location[0])) {
        auto url = parse_url(location);
        auto q = url.target.find('?');
        auto path = url.target.substr(0, q);
        url.target = remove_dot_segments(path) + (q == std::string::npos ? "" : url.target.substr(q));
        if (url.target.empty() || url.target.front() != '/') url.target.insert(0, "/");
        return url;
    }
    if (location.starts_with("//")) {
        std::string absolute = base.scheme + ":" + std::string(location);
        return resolve_reference(base, absolute);
    }
    std::string base_path = base.target.substr(0, base.target.find('?'));
    std::string path, query;
    auto q = location.find('?');
    auto ref_path = location.substr(0, q);
    auto ref_query = q == std::string_view::npos ? std::string_view() : location.substr(q);
    if (ref_path.empty()) {
        path = base_path;
        query = q == std::string_view::npos ? base.target.substr(std::min(base.target.size(), base_path.size()))
                                            : std::string(ref_query);
    } else if (ref_path.front() == '/') {
        path = remove_dot_segments(ref_path);
        query = ref_query;
    } else {
        auto slash = base_path.rfind('/');
        std::string merged = (slash == std::string::npos ? std::string("/") : base_path.substr(0, slash + 1)) + std::string(ref_path);
        path = remove_dot_segments(merged);
        query = ref_query;
    }
    if (path.empty() || path.front() != '/') path.insert(0, "/");
    Url next = base;
    next.target = clean_target(path + query, location);
    return next;
}

// ------------------------------------------------------------------------------------------------
// The guard

std::uint32_t v4_bits(const asio::ip::address_v4& a) { return a.to_uint(); }

bool in_v4(std::uint32_t a, std::uint32_t net, int prefix) {
    std::uint32_t mask = prefix == 0 ? 0 : ~std::uint32_t(0) << (32 - prefix);
    return (a & mask) == (net & mask);
}

constexpr std::uint32_t v4(unsigned a, unsigned b, unsigned c, unsigned d) { return (a << 24) | (b << 16) | (c << 8) | d; }

/// Why the guard refuses an IPv4 address, or nullptr.
const char* v4_reason(std::uint32_t a) {
    if (a == v4(255, 255, 255, 255)) return "the broadcast address";
    if (in_v4(a, v4(0, 0, 0, 0), 8)) return "an unspecified address";
    if (in_v4(a, v4(127, 0, 0, 0), 8)) return "a loopback address";
    if (in_v4(a, v4(10, 0, 0, 0), 8) || in_v4(a, v4(172, 16, 0, 0), 12) || in_v4(a, v4(192, 168, 0, 0), 16))
        return "a private address";
    if (a == v4(169, 254, 169, 254)) return "the link-local cloud metadata address";
    if (in_v4(a, v4(169, 254, 0, 0), 16)) return "a link-local address";
    if (in_v4(a, v4(100, 64, 0, 0), 10)) return "a carrier-grade NAT address";
    if (in_v4(a, v4(224, 0, 0, 0), 4)) return "a multicast address";
    if (in_v4(a, v4(240, 0, 0, 0), 4) || in_v4(a, v4(192, 0, 0, 0), 24)) return "a reserved address";
    if (in_v4(a, v4(198, 18, 0, 0), 15)) return "a benchmarking address";
    return nullptr;
}

std::uint32_t v4_at(const asio::ip::address_v6::bytes_type& b, std::size_t i) {
    return (std::uint32_t(b[i]) << 24) | (std::uint32_t(b[i + 1]) << 16) | (std::uint32_t(b[i + 2]) << 8) | b[i + 3];
}

bool zero(const asio::ip::address_v6::bytes_type& b, std::size_t from, std::size_t to) {
    for (auto i = from; i < to; ++i)
        if (b[i] != 0) return false;
    return true;
}

/// Why the guard refuses `address` (empty: it does not).
std::string internal_reason(const asio::ip::address& address) {
    if (address.is_v4()) {
        const char* r = v4_reason(v4_bits(address.to_v4()));
        return r ? r : "";
    }
    const auto b = address.to_v6().to_bytes();
    auto embedded = [&](std::uint32_t inner, const char* form) -> std::string {
        const char* r = v4_reason(inner);
        if (!r) return "";
        return std::string(r) + " (" + form + " " + asio::ip::address_v4(inner).to_string() + ")";
    };
    if (zero(b, 0, 15) && b[15] == 0) return "an unspecified address";
    if (zero(b, 0, 15) && b[15] == 1) return "a loopback address";
    if (zero(b, 0, 10) && b[10] == 0xff && b[11] == 0xff) return embedded(v4_at(b, 12), "IPv4-mapped");
    if (zero(b, 0, 8) && b[8] == 0xff && b[9] == 0xff && b[10] == 0 && b[11] == 0)
        return embedded(v4_at(b, 12), "IPv4-translated");
    if (zero(b, 0, 12)) return embedded(v4_at(b, 12), "IPv4-compatible");
    if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b) {
        if (zero(b, 4, 12)) return embedded(v4_at(b, 12), "NAT64");
        if (b[4] == 0x00 && b[5] == 0x01) return "a reserved address (local-use NAT64)";  // 64:ff9b:1::/48
    }
    if (b[0] == 0x20 && b[1] == 0x02) return embedded(v4_at(b, 2), "6to4");
    if ((b[0] & 0xfe) == 0xfc) return "a private address";
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return "a link-local address";
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) return "a site-local address";
    if (b[0] == 0xff) return "a multicast address";
    return "";
}

std::string describe(const boost::system::error_code& ec) { return ec.message(); }

}  // namespace

bool address_is_internal(const asio::ip::address& address) { return !internal_reason(address).empty(); }

// ------------------------------------------------------------------------------------------------

struct HttpClient::Impl {
    asio::any_io_executor io;
    OutboundPolicy policy;
    std::vector<AddressBlock> nets;
    std::vector<std::string> hosts;  ///< lowercase
    ssl::context tls{ssl::context::tls_client};

    struct Hop {
        int status = 0;
        HeaderList headers;
        std::string body;
        std::string remote;
        std::string location;
    };

    bool allowed(const asio::ip::address& a, std::string_view host) const {
        if (!address_is_internal(a)) return true;
        for (const auto& h : hosts)
            if (iequals(h, host)) return true;
        return std::any_of(nets.begin(), nets.end(), [&](const AddressBlock& n) { return n.contains(a); });
    }

    asio::awaitable<FetchResponse> run(FetchRequest request);
    asio::awaitable<Hop> hop(const Url& url, const std::string& method, const HeaderList& headers,
                             const std::string& body, Deadline deadline);
    asio::awaitable<std::vector<asio::ip::address>> resolve(const Url& url, Deadline deadline);
    template <class Stream>
    asio::awaitable<Hop> exchange(Stream& stream, const Url& url, const std::string& method, const HeaderList& headers,
                                  const std::string& body, Deadline deadline);
};

namespace {

bool expired(Deadline d) { return d && Clock::now() >= *d; }

[[noreturn]] void fail_timeout(const Url& url, std::string_view stage) {
    fail(Kind::timeout, "no complete response from " + url.authority() + " in time (" + std::string(stage) + ")");
}

/// The outcome of an async_resolve that may outlive the coroutine waiting for it (getaddrinfo
/// cannot be interrupted, so on a timeout the coroutine stops waiting and leaves this behind).
struct ResolveState {
    explicit ResolveState(const asio::any_io_executor& ex) : resolver(ex), wake(ex) {}
    tcp::resolver resolver;
    asio::steady_timer wake;
    bool done = false;
    boost::system::error_code ec;
    tcp::resolver::results_type results;
};

}  // namespace

asio::awaitable<std::vector<asio::ip::address>> HttpClient::Impl::resolve(const Url& url, Deadline deadline) {
    if (url.literal) co_return std::vector<asio::ip::address>{*url.literal};
    auto ex = co_await asio::this_coro::executor;
    auto state = std::make_shared<ResolveState>(ex);
    auto on_resolved = [state](const boost::system::error_code& ec, tcp::resolver::results_type results) {
        state->done = true;
        state->ec = ec;
        state->results = std::move(results);
        state->wake.cancel();
    };
    // Not address_configured: in a network-less container it hides even "localhost".
    state->resolver.async_resolve(url.host, std::to_string(url.port), tcp::resolver::numeric_service,
                                  asio::bind_executor(ex, std::move(on_resolved)));
    if (!state->done) {
        state->wake.expires_at(deadline ? *deadline : Clock::time_point::max());
        auto [ignored] = co_await state->wake.async_wait(asio::as_tuple(asio::use_awaitable));
        (void)ignored;
    }
    if (!state->done) {
        state->resolver.cancel();
        fail_timeout(url, "resolving " + url.host);
    }
    if (state->ec) fail(Kind::dns, "cannot resolve " + url.host + ": " + describe(state->ec));
    std::vector<asio::ip::address> out;
    for (const auto& entry : state->results) {
        auto a = entry.endpoint().address();
        if (std::find(out.begin(), out.end(), a) == out.end()) out.push_back(a);
    }
    if (out.empty()) fail(Kind::dns, "cannot resolve " + url.host + ": no addresses");
    co_return out;
}

template <class Stream>
asio::awaitable<HttpClient::Impl::Hop> HttpClient::Impl::exchange(Stream& stream, const Url& url, const std::string& method,
                                                                  const HeaderList& headers, const std::string& body,
                                                                  Deadline deadline) {
    http::request<http::string_body> req;
    req.version(11);
    req.method_string(method);
    req.target(url.target);
    req.set(http::field::host, url.authority());
    bool user_agent = std::any_of(headers.begin(), headers.end(), [](const auto& h) { return iequals(h.first, "user-agent"); });
    if (!user_agent && !policy.user_agent.empty()) req.set(http::field::user_agent, policy.user_agent);
    for (const auto& [name, value] : headers) {
        if (iequals(name, "host") || iequals(name, "content-length") || iequals(name, "transfer-encoding") ||
            iequals(name, "connection"))
            continue;
        req.insert(name, value);
    }
    req.set(http::field::connection, "close");
    if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
        req.body() = body;
        req.set(http::field::content_length, std::to_string(body.size()));
    }

    auto [wec, written] = co_await http::async_write(stream, req, asio::as_tuple(asio::use_awaitable));
    (void)written;
    if (wec == beast::error::timeout || expired(deadline)) fail_timeout(url, "sending the request");
    if (wec) fail(Kind::protocol, "sending the request to " + url.authority() + " failed: " + describe(wec));

    beast::flat_buffer buffer;
    std::optional<http::response_parser<http::string_body>> parser;
    for (int interim = 0;; ++interim) {
        parser.emplace();
        parser->body_limit(std::uint64_t(policy.max_response_bytes));
        parser->header_limit(kHeaderLimit);
        if (method == "HEAD") parser->skip(true);
        auto [rec, read] = co_await http::async_read(stream, buffer, *parser, asio::as_tuple(asio::use_awaitable));
        (void)read;
        if (rec == ssl::error::stream_truncated && parser->is_header_done() && parser->need_eof()) {
            // A TLS peer that closes without close_notify ends an EOF-delimited body all the same.
            rec = {};
            parser->put_eof(rec);
        }
        if (rec == http::error::body_limit)
            fail(Kind::too_large, "response body from " + url.authority() + " exceeds " +
                                      std::to_string(policy.max_response_bytes) + " bytes");
        if (rec == http::error::header_limit)
            fail(Kind::too_large, "response headers from " + url.authority() + " exceed " + std::to_string(kHeaderLimit) + " bytes");
        if (rec == beast::error::timeout || expired(deadline)) fail_timeout(url, "reading the response");
        if (rec) fail(Kind::protocol, "reading the response from " + url.authority() + " failed: " + describe(rec));
        int status = parser->get().result_int();
        if (status >= 100 && status < 200 && status != 101 && interim < kMaxInterimResponses) continue;
        break;
    }
    auto& msg = parser->get();
    Hop out;
    out.status = msg.result_int();
    for (const auto& field : msg) out.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    if (auto it = msg.find(http::field::location); it != msg.end()) out.location = std::string(it->value());
    out.body = std::move(msg.body());
    co_return out;
}

asio::awaitable<HttpClient::Impl::Hop> HttpClient::Impl::hop(const Url& url, const std::string& method,
                                                             const HeaderList& headers, const std::string& body,
                                                             Deadline deadline) {
    auto addresses = co_await resolve(url, deadline);

    // The guard, before any connection.
    std::vector<asio::ip::address> permitted;
    for (const auto& a : addresses)
        if (allowed(a, url.host)) permitted.push_back(a);
    if (permitted.empty()) {
        const auto& a = addresses.front();
        if (url.literal) fail(Kind::refused, url.host + " is " + internal_reason(a));
        fail(Kind::refused, url.host + " resolves to " + a.to_string() + ", " + internal_reason(a));
    }

    auto ex = co_await asio::this_coro::executor;
    beast::tcp_stream tcp(ex);
    if (deadline) tcp.expires_at(*deadline);
    boost::system::error_code last;
    asio::ip::address tried;
    bool connected = false;
    for (const auto& a : permitted) {
        tcp::endpoint endpoint(a, url.port);
        auto [cec] = co_await tcp.async_connect(endpoint, asio::as_tuple(asio::use_awaitable));
        if (!cec) {
            connected = true;
            break;
        }
        if (cec == beast::error::timeout || expired(deadline)) fail_timeout(url, "connecting to " + a.to_string());
        last = cec;
        tried = a;
        boost::system::error_code ignored;
        tcp.socket().close(ignored);
    }
    if (!connected)
        fail(Kind::connect, "cannot connect to " + url.authority() + " (" + tried.to_string() + "): " + describe(last));

    // The guard again, on the address actually connected to, before anything is sent.
    boost::system::error_code rec;
    auto remote = tcp.socket().remote_endpoint(rec);
    if (rec) fail(Kind::connect, "connection to " + url.authority() + " lost: " + describe(rec));
    auto remote_address = remote.address();
    if (!allowed(remote_address, url.host)) {
        tcp.close();
        fail(Kind::refused, url.host + " connected to " + remote_address.to_string() + ", " + internal_reason(remote_address));
    }

    Hop out;
    if (!url.tls()) {
        out = co_await exchange(tcp, url, method, headers, body, deadline);
    } else {
        ssl::stream<beast::tcp_stream> stream(std::move(tcp), tls);
        if (deadline) beast::get_lowest_layer(stream).expires_at(*deadline);
        if (!url.literal && !SSL_set_tlsext_host_name(stream.native_handle(), url.host.c_str()))
            fail(Kind::tls, "cannot set SNI for " + url.host);
        ssl::host_name_verification verify_host(url.host);
        const int mismatch = url.literal ? X509_V_ERR_IP_ADDRESS_MISMATCH : X509_V_ERR_HOSTNAME_MISMATCH;
        auto verify = [verify_host, mismatch](bool preverified, ssl::verify_context& ctx) {
            bool ok = verify_host(preverified, ctx);
            if (preverified && !ok) X509_STORE_CTX_set_error(ctx.native_handle(), mismatch);
            return ok;
        };
        stream.set_verify_callback(std::move(verify));
        auto [hec] = co_await stream.async_handshake(ssl::stream_base::client, asio::as_tuple(asio::use_awaitable));
        if (hec == beast::error::timeout || expired(deadline)) fail_timeout(url, "TLS handshake");
        if (hec) {
            std::string why = describe(hec);
            long verify_result = SSL_get_verify_result(stream.native_handle());
            if (verify_result != X509_V_OK) why += " (" + std::string(X509_verify_cert_error_string(verify_result)) + ")";
            fail(Kind::tls, "TLS handshake with " + url.authority() + " failed: " + why);
        }
        out = co_await exchange(stream, url, method, headers, body, deadline);
    }
    out.remote = remote_address.to_string();
    co_return out;
}

asio::awaitable<FetchResponse> HttpClient::Impl::run(FetchRequest request) {
    Url url = parse_url(request.url);
    if (!is_token(request.method)) fail(Kind::bad_url, "invalid method '" + request.method + "'");
    for (const auto& [name, value] : request.headers) {
        if (!is_token(name)) fail(Kind::bad_url, "invalid header name '" + name + "'");
        if (value.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos)
            fail(Kind::bad_url, "invalid value for header '" + name + "'");
    }
    const int timeout_ms = request.timeout_ms > 0 ? request.timeout_ms : policy.default_timeout_ms;
    std::string method = std::move(request.method);
    std::string body = std::move(request.body);
    HeaderList headers = std::move(request.headers);

    for (int redirects = 0;; ++redirects) {
        Deadline deadline;
        if (timeout_ms > 0) deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
        Hop h = co_await hop(url, method, headers, body, deadline);
        const bool redirect = h.status == 301 || h.status == 302 || h.status == 303 || h.status == 307 || h.status == 308;
        if (!redirect || h.location.empty()) {
            FetchResponse out;
            out.status = h.status;
            out.headers = std::move(h.headers);
            out.body = std::move(h.body);
            out.url = url.str();
            out.remote_address = std::move(h.remote);
            co_return out;
        }
        if (redirects >= std::max(policy.max_redirects, 0))
            fail(Kind::too_many_redirects, "more than " + std::to_string(std::max(policy.max_redirects, 0)) +
                                               " redirects (last from " + url.str() + ")");
        Url next = resolve_reference(url, h.location);
        if ((h.status == 303 && method != "HEAD") || ((h.status == 301 || h.status == 302) && method == "POST")) {
            method = "GET";
            body.clear();
            std::erase_if(headers, [](const auto& f) {
                return iequals(f.first, "content-type") || iequals(f.first, "content-encoding") ||
                       iequals(f.first, "content-language") || iequals(f.first, "content-location");
            });
        }
        if (!next.same_origin(url))
            std::erase_if(headers, [](const auto& f) {
                return iequals(f.first, "authorization") || iequals(f.first, "proxy-authorization") || iequals(f.first, "cookie");
            });
        url = std::move(next);
    }
}

// ------------------------------------------------------------------------------------------------

HttpClient::HttpClient(asio::any_io_executor io, OutboundPolicy policy) : impl_(std::make_unique<Impl>()) {
    impl_->io = std::move(io);
    impl_->policy = std::move(policy);
    for (const auto& entry : impl_->policy.allow) {
        auto invalid = [&entry] { return std::invalid_argument("invalid outbound allow-list entry '" + entry + "'"); };
        // An IPv6 address may come in brackets, as in a URL: "[fd00::1]", "[fd00::]/8".
        std::string unbracketed = entry;
        if (auto close = entry.find(']'); entry.size() > 2 && entry.front() == '[' && close != std::string::npos)
            unbracketed = entry.substr(1, close - 1) + entry.substr(close + 1);
        if (auto block = AddressBlock::parse(unbracketed)) {
            impl_->nets.push_back(*block);
        } else if (is_host_name(entry) && std::any_of(entry.begin(), entry.end(), [](char c) { return is_alpha(c); })) {
            impl_->hosts.push_back(lowercase(entry));
        } else {
            throw invalid();
        }
    }
    boost::system::error_code ignored;
    impl_->tls.set_default_verify_paths(ignored);
    impl_->tls.set_verify_mode(ssl::verify_peer);
    SSL_CTX_set_min_proto_version(impl_->tls.native_handle(), TLS1_2_VERSION);
}

HttpClient::~HttpClient() = default;

bool HttpClient::allowed(const asio::ip::address& address, std::string_view host) const {
    return impl_->allowed(address, host);
}

asio::awaitable<FetchResponse> HttpClient::fetch(FetchRequest request) {
    // Each fetch on a strand of its own: see the note at the top of the file.
    auto strand = asio::make_strand(impl_->io);
    auto work = impl_->run(std::move(request));
    auto spawned = asio::co_spawn(strand, std::move(work), asio::use_awaitable);
    co_return co_await std::move(spawned);
}

}  // namespace arclight::net
