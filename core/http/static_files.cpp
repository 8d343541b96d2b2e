#include "core/http/static_files.hpp"

#include <fstream>
#include <sstream>

namespace arclight {

std::string_view content_type_for(std::string_view name) {
    auto dot = name.rfind('.');
    if (dot == std::string_view::npos) return "application/octet-stream";
    auto ext = name.substr(dot + 1);
    if (ext == "html") return "text/html; charset=utf-8";
    if (ext == "js" || ext == "mjs") return "text/javascript; charset=utf-8";
    if (ext == "css") return "text/css; charset=utf-8";
    if (ext == "json" || ext == "map") return "application/json";
    if (ext == "svg") return "image/svg+xml";
    if (ext == "png") return "image/png";
    if (ext == "ico") return "image/x-icon";
    if (ext == "jpg" || ext == "jpeg") return "image/jpeg";
    if (ext == "webp") return "image/webp";
    if (ext == "woff2") return "font/woff2";
    if (ext == "txt") return "text/plain; charset=utf-8";
    if (ext == "wasm") return "application/wasm";
    return "application/octet-stream";
}

namespace {

bool compressed_copy(std::string_view rel) { return rel.ends_with(".gz") || rel.ends_with(".br"); }

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

bool iequal(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if ((a[i] | 0x20) != (b[i] | 0x20)) return false;
    return true;
}

}  // namespace

bool accepts_encoding(std::string_view header, std::string_view coding) {
    bool wildcard = false;
    while (!header.empty()) {
        auto comma = header.find(',');
        auto item = trim(header.substr(0, comma));
        header = comma == std::string_view::npos ? std::string_view() : header.substr(comma + 1);
        auto semi = item.find(';');
        auto name = trim(item.substr(0, semi));
        bool allowed = true;
        if (semi != std::string_view::npos) {
            auto params = item.substr(semi + 1);
            // q=0, q=0.0, q=0.00, q=0.000: not acceptable (RFC 9110, 12.4.2)
            auto q = params.find("q=");
            if (q == std::string_view::npos) q = params.find("Q=");
            if (q != std::string_view::npos) {
                auto v = trim(params.substr(q + 2));
                v = v.substr(0, v.find(';'));
                allowed = !(v == "0" || v == "0." || v == "0.0" || v == "0.00" || v == "0.000");
            }
        }
        if (iequal(name, coding)) return allowed;  // named: its own q decides
        if (name == "*") wildcard = allowed;
    }
    return wildcard;
}

StaticFiles::StaticFiles(std::span<const EmbeddedFile> files) {
    for (const auto& f : files) files_.emplace(std::string(f.path), f.data);
}

StaticFiles::StaticFiles(std::filesystem::path dir) : dir_(std::move(dir)) {}

std::optional<std::string> StaticFiles::read(std::string_view rel) const {
    if (compressed_copy(rel)) return std::nullopt;  // sent for their file, not by their own names
    return read_any(rel);
}

std::optional<std::string> StaticFiles::read_any(std::string_view rel) const {
    if (!dir_.empty()) {
        // Refuse anything that could step outside the directory.
        if (rel.find("..") != std::string_view::npos || rel.find('\\') != std::string_view::npos) return std::nullopt;
        auto p = dir_ / std::string(rel);
        std::error_code ec;
        if (!std::filesystem::is_regular_file(p, ec)) return std::nullopt;
        std::ifstream in(p, std::ios::binary);
        std::ostringstream ss;
        ss << in.rdbuf();
        return ss.str();
    }
    auto it = files_.find(std::string(rel));
    if (it == files_.end()) return std::nullopt;
    return std::string(it->second);
}

std::optional<HttpResponse> StaticFiles::serve(std::string_view path, std::string_view accept_encoding) const {
    if (path.empty() || path[0] != '/') return std::nullopt;
    std::string_view rel = path.substr(1);
    if (rel.empty()) rel = "index.html";
    auto body = read(rel);
    std::string_view served = rel;
    if (!body) {
        auto last = rel.substr(rel.rfind('/') == std::string_view::npos ? 0 : rel.rfind('/') + 1);
        if (last.find('.') != std::string_view::npos) return std::nullopt;  // a missing file, not a route
        body = read("index.html");
        served = "index.html";
        if (!body) return std::nullopt;
    }
    HttpResponse r;
    r.content_type = std::string(content_type_for(served));
    // A compressed copy when the client takes it: brotli first (smaller), then gzip.
    bool has_copies = false;
    for (const char* coding : {"br", "gzip"}) {
        auto copy = read_any(std::string(served) + (coding[0] == 'b' ? ".br" : ".gz"));
        if (!copy) continue;
        has_copies = true;
        if (!accepts_encoding(accept_encoding, coding)) continue;
        r.headers.emplace_back("Content-Encoding", coding);
        body = std::move(copy);
        break;
    }
    if (has_copies) r.headers.emplace_back("Vary", "Accept-Encoding");
    r.body = std::move(*body);
    if (served.rfind("assets/", 0) == 0) {
        r.headers.emplace_back("Cache-Control", "public, max-age=31536000, immutable");
    } else {
        r.headers.emplace_back("Cache-Control", "no-cache");
    }
    return r;
}

}  // namespace arclight
