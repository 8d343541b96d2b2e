#include "core/util/redact.hpp"

#include <algorithm>
#include <array>
#include <cctype>

namespace arclight {

namespace {

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

// "?a=1&token=x#frag" -> values of sensitive names hidden (names compared after %-decoding
// nothing: a name spelt with escapes is not recognised, and is left as it is).
std::string redact_query(std::string_view query) {
    std::string out;
    out.reserve(query.size());
    while (true) {
        auto amp = query.find('&');
        auto part = query.substr(0, amp);
        auto eq = part.find('=');
        if (eq != std::string_view::npos && sensitive_name(part.substr(0, eq))) {
            out.append(part.substr(0, eq + 1));
            out.append(kRedacted);
        } else {
            out.append(part);
        }
        if (amp == std::string_view::npos) break;
        out.push_back('&');
        query.remove_prefix(amp + 1);
    }
    return out;
}

}  // namespace

bool sensitive_name(std::string_view name) {
    std::string n = lower(name);
    static constexpr std::array<std::string_view, 9> parts{"auth",      "cookie",    "token",      "secret",  "password",
                                                          "passwd",    "signature", "credential", "session"};
    for (auto p : parts)
        if (n.find(p) != std::string::npos) return true;
    return n.size() >= 3 && n.compare(n.size() - 3, 3, "key") == 0;
}

std::string redact_header(std::string_view name, std::string_view value) {
    if (!sensitive_name(name)) return std::string(value);
    std::string n = lower(name);
    if (n == "authorization" || n == "proxy-authorization") {
        auto sp = value.find(' ');
        if (sp != std::string_view::npos && sp > 0 && sp < 20) return std::string(value.substr(0, sp + 1)) + std::string(kRedacted);
    }
    return std::string(kRedacted);
}

std::string redact_target(std::string_view target) {
    auto q = target.find('?');
    if (q == std::string_view::npos) return std::string(target);
    auto hash = target.find('#', q);
    std::string out(target.substr(0, q + 1));
    out += redact_query(target.substr(q + 1, hash == std::string_view::npos ? std::string_view::npos : hash - q - 1));
    if (hash != std::string_view::npos) out.append(target.substr(hash));
    return out;
}

std::string redact_url(std::string_view url) {
    auto scheme = url.find("://");
    if (scheme == std::string_view::npos) return std::string(url);
    auto authority_start = scheme + 3;
    auto authority_end = url.find_first_of("/?#", authority_start);
    auto authority = url.substr(authority_start, authority_end == std::string_view::npos ? std::string_view::npos
                                                                                         : authority_end - authority_start);
    std::string out(url.substr(0, authority_start));
    auto at = authority.rfind('@');
    if (at != std::string_view::npos) {
        out.append(kRedacted);
        out.append(authority.substr(at));
    } else {
        out.append(authority);
    }
    if (authority_end != std::string_view::npos) out += redact_target(url.substr(authority_end));
    return out;
}

std::string redact_url_in(std::string text, std::string_view url) {
    if (url.empty()) return text;
    std::string shown = redact_url(url);
    if (shown == url) return text;
    for (auto at = text.find(url); at != std::string::npos; at = text.find(url, at + shown.size()))
        text.replace(at, url.size(), shown);
    return text;
}

}  // namespace arclight
