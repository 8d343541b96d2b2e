// core/util/address_block: the one parser and matcher of address blocks (outbound allow-list,
// trusted proxies).
#include <doctest/doctest.h>

#include "core/util/address_block.hpp"

using arclight::AddressBlock;
namespace ip = boost::asio::ip;

TEST_CASE("address block: parses addresses and CIDR blocks strictly") {
    for (const char* good : {"127.0.0.1", "10.0.0.0/8", "0.0.0.0/0", "::1", "fd00::/8", "::/0", "::ffff:10.0.0.1/128"}) {
        CAPTURE(good);
        CHECK(AddressBlock::parse(good));
    }
    for (const char* bad : {"", "10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/8x", "10.1", "010.0.0.1x",
                            "fe80::1%eth0", "[10.0.0.1]", "[::1]", "host.example", " 10.0.0.1", "10.0.0.0/0008", "1.2.3.4/8/8"}) {
        CAPTURE(bad);
        CHECK_FALSE(AddressBlock::parse(bad));
    }
    auto single = AddressBlock::parse("192.168.1.7");
    REQUIRE(single);
    CHECK(single->prefix == 32);
    CHECK(AddressBlock::parse("::1")->prefix == 128);
}

TEST_CASE("address block: containment, across IPv4 and IPv4-mapped IPv6") {
    auto net = *AddressBlock::parse("10.20.0.0/16");
    CHECK(net.contains(ip::make_address("10.20.255.1")));
    CHECK_FALSE(net.contains(ip::make_address("10.21.0.1")));
    CHECK(net.contains(ip::make_address("::ffff:10.20.3.4")));
    CHECK_FALSE(net.contains(ip::make_address("::1")));
    auto odd = *AddressBlock::parse("10.0.0.128/25");
    CHECK(odd.contains(ip::make_address("10.0.0.200")));
    CHECK_FALSE(odd.contains(ip::make_address("10.0.0.127")));
    auto v6 = *AddressBlock::parse("fd00::/8");
    CHECK(v6.contains(ip::make_address("fd12::5")));
    CHECK_FALSE(v6.contains(ip::make_address("fe80::1")));
    CHECK_FALSE(v6.contains(ip::make_address("10.0.0.1")));
    auto mapped = *AddressBlock::parse("::ffff:0:0/96");
    CHECK(mapped.contains(ip::make_address("1.2.3.4")));
    auto all = *AddressBlock::parse("0.0.0.0/0");
    CHECK(all.contains(ip::make_address("8.8.8.8")));
}
