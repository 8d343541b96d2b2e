// The client behind a reverse proxy: trusted proxy lists, X-Forwarded-For chains, RFC 7239
// Forwarded (issue 19, item 3).
#include "core/http/forwarded.hpp"

#include <doctest/doctest.h>

#include <stdexcept>

using namespace arclight;

namespace {

std::string node(std::string_view s) {
    auto a = parse_forwarded_node(s);
    return a ? a->to_string() : "-";
}

ClientOrigin via_xff(std::string_view peer, const TrustedProxies& t, std::string xff, std::string proto = {}) {
    ForwardingHeaders h;
    h.x_forwarded_for = std::move(xff);
    h.x_forwarded_proto = std::move(proto);
    return resolve_client(peer, h, t, ForwardedHeader::x_forwarded_for);
}

ClientOrigin via_forwarded(std::string_view peer, const TrustedProxies& t, std::string fwd) {
    ForwardingHeaders h;
    h.forwarded = std::move(fwd);
    return resolve_client(peer, h, t, ForwardedHeader::forwarded);
}

}  // namespace

TEST_CASE("trusted proxies: addresses and CIDR blocks, IPv4 and IPv6") {
    TrustedProxies t({"127.0.0.1", "10.0.0.0/8", "192.168.1.0/24", "::1", "fd00::/8", "2001:db8:1::/48"});
    CHECK(t.contains("127.0.0.1"));
    CHECK_FALSE(t.contains("127.0.0.2"));
    CHECK(t.contains("10.0.0.1"));
    CHECK(t.contains("10.255.255.255"));
    CHECK_FALSE(t.contains("11.0.0.1"));
    CHECK(t.contains("192.168.1.200"));
    CHECK_FALSE(t.contains("192.168.2.1"));
    CHECK(t.contains("::1"));
    CHECK(t.contains("fd12:3456::7"));
    CHECK_FALSE(t.contains("fe80::1"));
    CHECK(t.contains("2001:db8:1:ffff::1"));
    CHECK_FALSE(t.contains("2001:db8:2::1"));
    // An IPv4 peer on a dual-stack socket is IPv4-mapped IPv6.
    CHECK(t.contains("::ffff:127.0.0.1"));
    CHECK(t.contains("::ffff:10.1.2.3"));
    CHECK_FALSE(t.contains("::ffff:8.8.8.8"));
    CHECK_FALSE(t.contains("not an address"));
    CHECK_FALSE(t.contains(""));

    // Prefix lengths that are not whole bytes; host bits in the base are ignored.
    TrustedProxies odd({"172.16.0.0/12", "100.64.1.1/10", "0.0.0.0/0"});
    CHECK(odd.contains("172.31.255.1"));
    CHECK(odd.contains("8.8.8.8"));  // /0: every IPv4 address
    CHECK_FALSE(odd.contains("2001:db8::1"));
    TrustedProxies twelve({"172.16.0.0/12"});
    CHECK_FALSE(twelve.contains("172.32.0.1"));
    CHECK(TrustedProxies({"100.64.1.1/10"}).contains("100.127.0.1"));
    CHECK_FALSE(TrustedProxies({"100.64.1.1/10"}).contains("100.128.0.1"));
    CHECK(TrustedProxies({"::/0"}).contains("2001:db8::1"));

    CHECK(TrustedProxies().empty());
    CHECK_FALSE(TrustedProxies().contains("127.0.0.1"));
}

TEST_CASE("trusted proxies: an entry that is neither an address nor a block is refused, named") {
    for (const char* bad : {"", "localhost", "10.0.0.0/33", "::1/129", "10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/8/8",
                            "10.0.0", "1.2.3.4.5", "[::1]", "fe80::1%eth0", "10.0.0.0/ 8", "*"}) {
        CAPTURE(bad);
        CHECK_FALSE(TrustedProxies::entry_problem(bad).empty());
        try {
            TrustedProxies t({"127.0.0.1", bad});
            FAIL("accepted");
        } catch (const std::invalid_argument& e) {
            CHECK(std::string(e.what()).find(std::string("'") + bad + "'") != std::string::npos);
            CHECK(std::string(e.what()).find("server.trusted_proxies") != std::string::npos);
        }
    }
    for (const char* good : {"127.0.0.1", "10.0.0.0/8", "::1", "::/0", "2001:db8::/32", " 10.1.0.0/16 "}) {
        CAPTURE(good);
        CHECK(TrustedProxies::entry_problem(good).empty());
    }
}

TEST_CASE("forwarded nodes: addresses with and without brackets and ports; anything else is not one") {
    CHECK(node("192.0.2.60") == "192.0.2.60");
    CHECK(node("192.0.2.60:8080") == "192.0.2.60");
    CHECK(node("192.0.2.60:_port") == "192.0.2.60");
    CHECK(node("2001:db8:cafe::17") == "2001:db8:cafe::17");
    CHECK(node("[2001:db8:cafe::17]") == "2001:db8:cafe::17");
    CHECK(node("[2001:db8:cafe::17]:4711") == "2001:db8:cafe::17");
    CHECK(node("[2001:DB8:CAFE::17]:4711") == "2001:db8:cafe::17");
    CHECK(node("::ffff:203.0.113.9") == "203.0.113.9");
    CHECK(node("unknown") == "-");
    CHECK(node("_hidden") == "-");
    CHECK(node("_SEVKISEK") == "-");
    CHECK(node("") == "-");
    CHECK(node("192.0.2.60:") == "-");
    CHECK(node("192.0.2.60:99999") == "-");
    CHECK(node("192.0.2.60:80x") == "-");
    CHECK(node("192.0.2") == "-");
    CHECK(node("300.0.2.1") == "-");
    CHECK(node("[192.0.2.60]") == "-");
    CHECK(node("[2001:db8::1") == "-");
    CHECK(node("[2001:db8::1]x") == "-");
    CHECK(node("[2001:db8::1]:") == "-");
    CHECK(node("fe80::1%eth0") == "-");
    CHECK(node("[fe80::1%25eth0]") == "-");
    CHECK(node("example.com") == "-");
    CHECK(node("1.2.3.4 5.6.7.8") == "-");
    CHECK(node(std::string(200, '1')) == "-");
    CHECK(node(std::string("1.2.3.4\0", 8)) == "-");
}

TEST_CASE("Forwarded: elements, pairs, quoted strings; malformed values are refused whole") {
    auto e = parse_forwarded(R"(for=192.0.2.43, for="[2001:db8:cafe::17]:4711";Proto=https;by=203.0.113.43)");
    REQUIRE(e);
    REQUIRE(e->size() == 2);
    CHECK((*e)[0].at("for") == "192.0.2.43");
    CHECK((*e)[1].at("for") == "[2001:db8:cafe::17]:4711");
    CHECK((*e)[1].at("proto") == "https");
    CHECK((*e)[1].at("by") == "203.0.113.43");
    auto q = parse_forwarded(R"(for="_gaz\"zo";host="a,b", ,for=unknown)");
    REQUIRE(q);
    REQUIRE(q->size() == 2);
    CHECK((*q)[0].at("for") == "_gaz\"zo");
    CHECK((*q)[0].at("host") == "a,b");
    CHECK((*q)[1].at("for") == "unknown");
    CHECK(parse_forwarded("")->empty());
    for (const char* bad : {"for", "for=", "=1.2.3.4", "for=\"1.2.3.4", "for=1.2.3.4 x", "for =1.2.3.4", "for=1.2.3.4;for=5.6.7.8",
                            "for=\"a\nb\"", "for=a\"b", "f(r=1.2.3.4", "for=1.2.3.4;;x", "for=\"\\"}) {
        CAPTURE(bad);
        CHECK_FALSE(parse_forwarded(bad));
    }
}

TEST_CASE("X-Forwarded-For: only from a trusted peer, right to left past trusted proxies") {
    TrustedProxies t({"127.0.0.1", "10.0.0.0/8", "::1"});
    // Not from a trusted peer: the headers are the client's own word.
    auto direct = via_xff("203.0.113.7", t, "127.0.0.1", "https");
    CHECK(direct.address == "203.0.113.7");
    CHECK_FALSE(direct.forwarded);
    CHECK(direct.scheme.empty());
    CHECK(via_xff("127.0.0.1", TrustedProxies(), "198.51.100.1").address == "127.0.0.1");

    // One proxy.
    auto one = via_xff("127.0.0.1", t, "198.51.100.1", "https");
    CHECK(one.address == "198.51.100.1");
    CHECK(one.forwarded);
    CHECK(one.scheme == "https");
    CHECK(via_xff("::ffff:127.0.0.1", t, "198.51.100.1").address == "198.51.100.1");
    // A forged left part is passed over: the proxy appended the address it saw.
    CHECK(via_xff("127.0.0.1", t, "127.0.0.1, 198.51.100.1").address == "198.51.100.1");
    CHECK(via_xff("127.0.0.1", t, "1.1.1.1, 2.2.2.2, 198.51.100.1").address == "198.51.100.1");
    // Trusted hops are passed over; the first untrusted one from the right is the client.
    CHECK(via_xff("127.0.0.1", t, "1.1.1.1, 198.51.100.1, 10.0.0.5, 10.9.9.9").address == "198.51.100.1");
    // All trusted: the left-most.
    CHECK(via_xff("127.0.0.1", t, "10.0.0.7, 10.0.0.5").address == "10.0.0.7");
    // IPv6, with brackets and ports, and lines given twice (joined as one list).
    CHECK(via_xff("::1", t, "2001:db8::7").address == "2001:db8::7");
    CHECK(via_xff("::1", t, "[2001:db8::7]:5555").address == "2001:db8::7");
    CHECK(via_xff("127.0.0.1", t, "198.51.100.1:4242").address == "198.51.100.1");
    CHECK(via_xff("127.0.0.1", t, "  198.51.100.1 ,, ").address == "198.51.100.1");
    // Garbage to the right of the client is never trusted: the client is the peer.
    for (const char* bad : {"garbage", "198.51.100.1, garbage", "198.51.100.1, unknown", "198.51.100.1, 10.0.0.1 10.0.0.2",
                            "1.2.3.4; 5.6.7.8", "[::1", "_hidden"}) {
        CAPTURE(bad);
        auto r = via_xff("127.0.0.1", t, bad);
        CHECK(r.address == "127.0.0.1");
        CHECK_FALSE(r.forwarded);
    }
    // Garbage to the left of the client does not matter (it was the client's own).
    CHECK(via_xff("127.0.0.1", t, "garbage, 198.51.100.1").address == "198.51.100.1");
    // No header: the peer.
    CHECK(via_xff("127.0.0.1", t, "").address == "127.0.0.1");
    // X-Forwarded-Proto: the value the proxy in front of this server set; only http or https.
    CHECK(via_xff("127.0.0.1", t, "198.51.100.1", "HTTPS").scheme == "https");
    CHECK(via_xff("127.0.0.1", t, "198.51.100.1", "https, http").scheme == "http");
    CHECK(via_xff("127.0.0.1", t, "198.51.100.1", "gopher").scheme.empty());
    // The other header is not read.
    ForwardingHeaders only_forwarded;
    only_forwarded.forwarded = "for=198.51.100.1;proto=https";
    auto ignored = resolve_client("127.0.0.1", only_forwarded, t, ForwardedHeader::x_forwarded_for);
    CHECK(ignored.address == "127.0.0.1");
    CHECK(ignored.scheme.empty());
}

TEST_CASE("Forwarded: only from a trusted peer; IPv6, ports, quotes, unknown and garbage") {
    TrustedProxies t({"127.0.0.1", "10.0.0.0/8", "::1"});
    CHECK(via_forwarded("203.0.113.7", t, "for=127.0.0.1").address == "203.0.113.7");
    auto one = via_forwarded("127.0.0.1", t, "for=198.51.100.1;proto=https");
    CHECK(one.address == "198.51.100.1");
    CHECK(one.scheme == "https");
    CHECK(one.forwarded);
    CHECK(via_forwarded("127.0.0.1", t, R"(for="[2001:db8:cafe::17]:4711")").address == "2001:db8:cafe::17");
    CHECK(via_forwarded("127.0.0.1", t, R"(For="198.51.100.1:8080")").address == "198.51.100.1");
    // Forged elements on the left are passed over; trusted hops are passed over.
    CHECK(via_forwarded("127.0.0.1", t, "for=127.0.0.1, for=198.51.100.1").address == "198.51.100.1");
    auto chain = via_forwarded("127.0.0.1", t, "for=1.1.1.1;proto=http, for=198.51.100.1;proto=https, for=10.0.0.5;proto=http");
    CHECK(chain.address == "198.51.100.1");
    CHECK(chain.scheme == "https");  // the proto of the hop the client used
    CHECK(via_forwarded("127.0.0.1", t, "for=10.0.0.7, for=10.0.0.5").address == "10.0.0.7");
    // Not an address on the walk (unknown, obfuscated, missing "for"), or a malformed header: the peer.
    for (const char* bad : {"for=unknown", "for=_hidden", "for=198.51.100.1, for=unknown", "proto=https",
                            "for=198.51.100.1, by=10.0.0.1", "for=\"198.51.100.1", "for=198.51.100.1;for=1.1.1.1",
                            "for=[2001:db8::1", "for=198.51.100.1 garbage", "for=\"[2001:db8::1]:99999\"", ""}) {
        CAPTURE(bad);
        auto r = via_forwarded("127.0.0.1", t, bad);
        CHECK(r.address == "127.0.0.1");
        CHECK_FALSE(r.forwarded);
        CHECK(r.scheme.empty());
    }
    // An unknown element left of the client does not matter.
    CHECK(via_forwarded("127.0.0.1", t, "for=unknown, for=198.51.100.1").address == "198.51.100.1");
    // X-Forwarded-For is not read when the proxy writes Forwarded.
    ForwardingHeaders only_xff;
    only_xff.x_forwarded_for = "198.51.100.1";
    CHECK(resolve_client("127.0.0.1", only_xff, t, ForwardedHeader::forwarded).address == "127.0.0.1");
}
