#pragma once
// The one outbound HTTP client of the workflow module (the `http` task; later hub connectors).
// HTTP/1.1 over TCP or TLS (system CA store, hostname verification, SNI), per-request timeout
// covering resolve + connect + TLS + write + read, a response size cap, redirects followed up to a
// limit, and an SSRF guard: every address DNS returns is checked before connecting, the address
// actually connected to is checked again, and the same happens on every redirect hop. Refused
// unless allow-listed: loopback, private (RFC 1918, fc00::/7), link-local (169.254/16, fe80::/10,
// which includes the 169.254.169.254 metadata address), unspecified, CGNAT 100.64/10, multicast,
// broadcast, and IPv4-mapped / IPv4-compatible / NAT64 IPv6 forms of those.
#include "core/http/message.hpp"  // HeaderList
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>
#include <cstddef>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace arclight::net {

struct OutboundPolicy {
    /// Entries that are allowed even though the guard would refuse them: CIDR blocks
    /// ("10.1.0.0/16", "::1/128"), single addresses, or host names ("localhost", exact match,
    /// case-insensitive, checked against the URL's host).
    std::vector<std::string> allow;
    int max_redirects = 5;
    std::size_t max_response_bytes = 10 * 1024 * 1024;
    int default_timeout_ms = 30000;
    std::string user_agent = "arclight";
};

struct FetchRequest {
    std::string method = "GET";
    std::string url;                  ///< http:// or https:// only
    HeaderList headers;
    std::string body;
    int timeout_ms = 0;               ///< 0: policy default
};

struct FetchResponse {
    int status = 0;
    HeaderList headers;
    std::string body;
    std::string url;                  ///< after redirects
    std::string remote_address;       ///< the address actually connected to
};

class OutboundError : public std::runtime_error {
public:
    enum class Kind { bad_url, refused, dns, connect, tls, timeout, protocol, too_large, too_many_redirects };
    OutboundError(Kind k, const std::string& what) : std::runtime_error(what), kind_(k) {}
    Kind kind() const noexcept { return kind_; }
private:
    Kind kind_;
};
const char* to_string(OutboundError::Kind);

/// True when the guard refuses to connect to `address` (before the allow list is consulted).
bool address_is_internal(const boost::asio::ip::address& address);

class HttpClient {
public:
    /// Invalid allow-list entries throw std::invalid_argument naming the entry.
    HttpClient(boost::asio::any_io_executor io, OutboundPolicy policy);
    ~HttpClient();
    HttpClient(const HttpClient&) = delete;
    HttpClient& operator=(const HttpClient&) = delete;
    /// Performs the request. Throws OutboundError. Safe to call concurrently from many coroutines.
    boost::asio::awaitable<FetchResponse> fetch(FetchRequest request);
    /// Whether `address` may be connected to for a URL whose host is `host` (guard + allow list).
    bool allowed(const boost::asio::ip::address& address, std::string_view host) const;
private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace arclight::net
