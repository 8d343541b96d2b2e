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

StaticFiles::StaticFiles(std::span<const EmbeddedFile> files) {
    for (const auto& f : files) files_.emplace(std::string(f.path), f.data);
}

StaticFiles::StaticFiles(std::filesystem::path dir) : dir_(std::move(dir)) {}

std::optional<std::string> StaticFiles::read(std::string_view rel) const {
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

std::optional<HttpResponse> StaticFiles::serve(std::string_view path) const {
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
    r.body = std::move(*body);
    if (served.rfind("assets/", 0) == 0) {
        r.headers.emplace_back("Cache-Control", "public, max-age=31536000, immutable");
    } else {
        r.headers.emplace_back("Cache-Control", "no-cache");
    }
    return r;
}

}  // namespace arclight
