#pragma once
// The client behind a reverse proxy (issue 19). A proxy on the same host makes every TCP peer
// 127.0.0.1; the address of the real client is in the header the proxy adds: X-Forwarded-For
// (with X-Forwarded-Proto) or RFC 7239 Forwarded. Those headers are honoured only when the TCP
// peer is a trusted proxy (server.trusted_proxies), and only the one the proxy is said to write
// (server.forwarded_header): a header the proxy passes through untouched is the client's own
// word. Anything malformed is never trusted: the client is then the TCP peer.

#include "core/util/address_block.hpp"

#include <boost/asio/ip/address.hpp>

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace arclight {

/// Addresses and CIDR blocks, IPv4 and IPv6.
class TrustedProxies {
public:
    TrustedProxies() = default;
    /// Each entry an address ("127.0.0.1", "::1") or a block ("10.0.0.0/8", "fd00::/8"). Throws
    /// std::invalid_argument naming the first entry that is neither.
    explicit TrustedProxies(const std::vector<std::string>& entries);
    /// Why `entry` is not an address or a CIDR block; empty when it is one.
    static std::string entry_problem(std::string_view entry);

    bool empty() const noexcept { return blocks_.empty(); }
    /// Whether `address` is in one of the blocks (an IPv4-mapped IPv6 address as its IPv4 one).
    bool contains(const boost::asio::ip::address& address) const;
    /// The same for an address as text; false for text that is not an address.
    bool contains(std::string_view address) const;

private:
    std::vector<AddressBlock> blocks_;
};

/// Which header a trusted proxy writes.
enum class ForwardedHeader { x_forwarded_for, forwarded };

/// The forwarding headers of one request, each the values of all its lines joined by ", ".
struct ForwardingHeaders {
    std::string x_forwarded_for;
    std::string x_forwarded_proto;
    std::string forwarded;
};

struct ClientOrigin {
    std::string address;     ///< the client: the TCP peer, or the address a trusted proxy forwarded
    std::string scheme;      ///< "http" or "https" as the trusted proxy said; empty when it said nothing usable
    bool forwarded = false;  ///< `address` came from a forwarding header
};

/// The client of a request whose TCP peer is `peer`. Only when `peer` is trusted are the headers
/// read: the addresses of the chain right to left, passing over those that are trusted proxies
/// themselves, and the first that is not is the client (all trusted: the left-most). An element
/// that is not an address (malformed, "unknown", an obfuscated identifier) ends the walk and the
/// client is the peer.
ClientOrigin resolve_client(std::string_view peer, const ForwardingHeaders& headers, const TrustedProxies& trusted,
                            ForwardedHeader which);

/// A node as a forwarding header names it: an IPv4 or IPv6 address, bracketed or not, with or
/// without a port ("192.0.2.1", "192.0.2.1:80", "2001:db8::1", "[2001:db8::1]:4711"). IPv4-mapped
/// IPv6 comes back as IPv4. nullopt for anything else ("unknown", "_hidden", garbage, a zone id).
std::optional<boost::asio::ip::address> parse_forwarded_node(std::string_view node);

/// One element of a Forwarded header: parameter names in lower case, values unquoted.
using ForwardedElement = std::map<std::string, std::string>;
/// The elements of a Forwarded header value (RFC 7239 §4), in order; nullopt when it is malformed.
std::optional<std::vector<ForwardedElement>> parse_forwarded(std::string_view value);

}  // namespace arclight
