#pragma once
// An IP address block: an address with a prefix length ("10.0.0.0/8", "fd00::/8"; a single
// address is a /32 or /128). Used by the outbound allow-list (core/net) and the trusted proxies
// (core/http/forwarded).
#include <boost/asio/ip/address.hpp>

#include <optional>
#include <string_view>

namespace arclight {

struct AddressBlock {
    boost::asio::ip::address base;
    int prefix = 0;

    /// "a.b.c.d", "a.b.c.d/n", an IPv6 address with an optional "/n" (no brackets).
    /// Strict: dotted-quad IPv4 only, no zone ids, no spaces; nullopt for anything else.
    static std::optional<AddressBlock> parse(std::string_view text);
    /// An IPv4 block also holds the IPv4-mapped IPv6 form of its addresses, and an IPv6 block the
    /// IPv4 addresses whose mapped form it holds.
    bool contains(const boost::asio::ip::address& address) const;
};

}  // namespace arclight
