#include "core/util/address_block.hpp"

#include <algorithm>
#include <string>

namespace arclight {
namespace ip = boost::asio::ip;

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

bool prefix_equal(const unsigned char* a, const unsigned char* b, int prefix) {
    int full = prefix / 8, rest = prefix % 8;
    if (!std::equal(a, a + full, b)) return false;
    if (rest == 0) return true;
    unsigned mask = (0xffu << (8 - rest)) & 0xffu;
    return (a[full] & mask) == (b[full] & mask);
}

bool address_chars(std::string_view s) {
    return !s.empty() && s.size() <= 45 && std::all_of(s.begin(), s.end(), [](char c) {
        return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == '.' || c == ':';
    });
}

}  // namespace

std::optional<AddressBlock> AddressBlock::parse(std::string_view text) {
    auto slash = text.find('/');
    auto addr = text.substr(0, slash);
    if (!address_chars(addr)) return std::nullopt;
    boost::system::error_code ec;
    ip::address base;
    if (addr.find(':') != std::string_view::npos) {
        base = ip::make_address_v6(std::string(addr), ec);
    } else {
        base = ip::make_address_v4(std::string(addr), ec);
    }
    if (ec) return std::nullopt;
    int max = base.is_v4() ? 32 : 128;
    if (slash == std::string_view::npos) return AddressBlock{base, max};
    auto bits = text.substr(slash + 1);
    if (bits.empty() || bits.size() > 3 || !std::all_of(bits.begin(), bits.end(), is_digit)) return std::nullopt;
    int prefix = std::stoi(std::string(bits));
    if (prefix > max) return std::nullopt;
    return AddressBlock{base, prefix};
}

bool AddressBlock::contains(const ip::address& address) const {
    if (base.is_v4()) {
        ip::address_v4 a;
        if (address.is_v4()) a = address.to_v4();
        else if (address.to_v6().is_v4_mapped()) a = ip::make_address_v4(ip::v4_mapped, address.to_v6());
        else return false;
        auto x = a.to_bytes(), y = base.to_v4().to_bytes();
        return prefix_equal(x.data(), y.data(), prefix);
    }
    auto a = address.is_v4() ? ip::make_address_v6(ip::v4_mapped, address.to_v4()) : address.to_v6();
    auto x = a.to_bytes(), y = base.to_v6().to_bytes();
    return prefix_equal(x.data(), y.data(), prefix);
}

}  // namespace arclight
