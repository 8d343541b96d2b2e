#include "core/http/forwarded.hpp"

#include <algorithm>
#include <stdexcept>

namespace arclight {

namespace ip = boost::asio::ip;

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alnum(char c) { return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// RFC 9110 tchar.
bool is_tchar(char c) {
    if (is_alnum(c)) return true;
    switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
    case '-': case '.': case '^': case '_': case '`': case '|': case '~':
        return true;
    default:
        return false;
    }
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

// The elements of a comma-separated header list, without empty ones (RFC 9110 §5.6.1).
std::vector<std::string_view> list_elements(std::string_view s) {
    std::vector<std::string_view> out;
    while (true) {
        auto comma = s.find(',');
        auto part = trim(s.substr(0, comma));
        if (!part.empty()) out.push_back(part);
        if (comma == std::string_view::npos) break;
        s.remove_prefix(comma + 1);
    }
    return out;
}

// Only the characters of an address: the parsers below read C strings, and a NUL would end one early.
bool address_chars(std::string_view s) {
    return !s.empty() && s.size() <= 45 && std::all_of(s.begin(), s.end(), [](char c) {
        return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == '.' || c == ':';
    });
}

std::optional<ip::address> strict_v4(std::string_view s) {
    if (!address_chars(s)) return std::nullopt;
    boost::system::error_code ec;
    auto a = ip::make_address_v4(std::string(s), ec);
    if (ec) return std::nullopt;
    return ip::address(a);
}

std::optional<ip::address> strict_v6(std::string_view s) {
    if (!address_chars(s)) return std::nullopt;  // no zone ids either
    boost::system::error_code ec;
    auto a = ip::make_address_v6(std::string(s), ec);
    if (ec) return std::nullopt;
    if (a.is_v4_mapped()) return ip::address(ip::make_address_v4(ip::v4_mapped, a));
    return ip::address(a);
}

// ":80" or an obfuscated port ":_abc" (RFC 7239 §6.3).
bool valid_port_suffix(std::string_view s) {
    if (s.size() < 2 || s[0] != ':') return false;
    s.remove_prefix(1);
    if (s[0] == '_') {
        return s.size() > 1 && std::all_of(s.begin() + 1, s.end(), [](char c) { return is_alnum(c) || c == '.' || c == '_' || c == '-'; });
    }
    if (s.size() > 5 || !std::all_of(s.begin(), s.end(), is_digit)) return false;
    return std::stoul(std::string(s)) <= 65535;
}

std::string scheme_of(std::string_view s) {
    auto l = lower(trim(s));
    return l == "http" || l == "https" ? l : std::string{};
}

}  // namespace

std::string TrustedProxies::entry_problem(std::string_view entry) {
    if (AddressBlock::parse(trim(entry))) return {};
    return "'" + std::string(entry).substr(0, 100) +
           "' is not an IP address or CIDR block (e.g. \"127.0.0.1\", \"10.0.0.0/8\", \"::1\", \"fd00::/8\")";
}

TrustedProxies::TrustedProxies(const std::vector<std::string>& entries) {
    for (const auto& e : entries) {
        auto b = AddressBlock::parse(trim(e));
        if (!b) throw std::invalid_argument("server.trusted_proxies: " + entry_problem(e));
        blocks_.push_back(*b);
    }
}

bool TrustedProxies::contains(const ip::address& address) const {
    return std::any_of(blocks_.begin(), blocks_.end(), [&](const AddressBlock& b) { return b.contains(address); });
}

bool TrustedProxies::contains(std::string_view address) const {
    if (blocks_.empty()) return false;
    boost::system::error_code ec;
    auto a = ip::make_address(std::string(address), ec);
    return !ec && contains(a);
}

std::optional<ip::address> parse_forwarded_node(std::string_view node) {
    if (node.empty() || node.size() > 64) return std::nullopt;
    if (node.front() == '[') {
        auto close = node.find(']');
        if (close == std::string_view::npos) return std::nullopt;
        auto rest = node.substr(close + 1);
        if (!rest.empty() && !valid_port_suffix(rest)) return std::nullopt;
        return strict_v6(node.substr(1, close - 1));
    }
    auto colons = std::count(node.begin(), node.end(), ':');
    if (colons == 0) return strict_v4(node);
    if (colons == 1) {
        auto colon = node.find(':');
        if (!valid_port_suffix(node.substr(colon))) return std::nullopt;
        return strict_v4(node.substr(0, colon));
    }
    return strict_v6(node);  // a bare IPv6 address, as X-Forwarded-For gives it
}

std::optional<std::vector<ForwardedElement>> parse_forwarded(std::string_view s) {
    std::vector<ForwardedElement> out;
    ForwardedElement current;
    std::size_t i = 0, n = s.size();
    auto skip_ows = [&] {
        while (i < n && (s[i] == ' ' || s[i] == '\t')) ++i;
    };
    while (true) {
        skip_ows();
        if (i == n) break;
        if (s[i] == ',') {
            if (!current.empty()) out.push_back(std::move(current));
            current.clear();
            ++i;
            continue;
        }
        if (s[i] == ';') {
            ++i;
            continue;
        }
        auto start = i;
        while (i < n && is_tchar(s[i])) ++i;
        if (i == start || i == n || s[i] != '=') return std::nullopt;
        auto name = lower(s.substr(start, i - start));
        ++i;
        std::string value;
        if (i < n && s[i] == '"') {
            ++i;
            bool closed = false;
            while (i < n) {
                char c = s[i++];
                if (c == '"') {
                    closed = true;
                    break;
                }
                if (c == '\\') {
                    if (i == n) return std::nullopt;
                    c = s[i++];
                }
                auto u = static_cast<unsigned char>(c);
                if ((u < 0x20 && c != '\t') || u == 0x7f) return std::nullopt;
                value += c;
            }
            if (!closed) return std::nullopt;
        } else {
            start = i;
            // A token; brackets and colons too, which some proxies leave unquoted.
            while (i < n && (is_tchar(s[i]) || s[i] == ':' || s[i] == '[' || s[i] == ']')) ++i;
            if (i == start) return std::nullopt;
            value = std::string(s.substr(start, i - start));
        }
        if (!current.emplace(std::move(name), std::move(value)).second) return std::nullopt;  // a parameter twice
        skip_ows();
        if (i < n && s[i] != ',' && s[i] != ';') return std::nullopt;
    }
    if (!current.empty()) out.push_back(std::move(current));
    return out;
}

ClientOrigin resolve_client(std::string_view peer, const ForwardingHeaders& h, const TrustedProxies& trusted,
                            ForwardedHeader which) {
    ClientOrigin out{std::string(peer), {}, false};
    if (!trusted.contains(peer)) return out;
    if (which == ForwardedHeader::x_forwarded_for) {
        auto protos = list_elements(h.x_forwarded_proto);
        if (!protos.empty()) out.scheme = scheme_of(protos.back());  // said by the proxy in front of this server
        auto chain = list_elements(h.x_forwarded_for);
        std::optional<ip::address> client;
        for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
            client = parse_forwarded_node(*it);
            if (!client) return out;
            if (!trusted.contains(*client)) break;
        }
        if (!client) return out;
        out.address = client->to_string();
        out.forwarded = true;
        return out;
    }
    auto elements = parse_forwarded(h.forwarded);
    if (!elements || elements->empty()) return out;
    const ForwardedElement* chosen = nullptr;
    std::optional<ip::address> client;
    for (auto it = elements->rbegin(); it != elements->rend(); ++it) {
        auto f = it->find("for");
        if (f == it->end()) return out;
        client = parse_forwarded_node(f->second);
        if (!client) return out;
        chosen = &*it;
        if (!trusted.contains(*client)) break;
    }
    out.address = client->to_string();
    out.forwarded = true;
    if (auto p = chosen->find("proto"); p != chosen->end()) out.scheme = scheme_of(p->second);
    return out;
}

}  // namespace arclight
