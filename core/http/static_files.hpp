#pragma once
// Serves the web UI: from the files embedded at build time, or from a directory on disk
// (server.ui_dir, for UI development). Hashed assets under assets/ are cached for a year;
// index.html is revalidated on every load. Unknown paths without a file extension fall back to
// index.html so that client-side routes can be deep-linked. A file built with compressed copies
// beside it (name.br, name.gz: web/compress.mjs) is sent as brotli or gzip when the request's
// Accept-Encoding allows it (with Vary: Accept-Encoding); the copies are not served by their own
// names.

#include "core/http/message.hpp"
#include "core/util/embedded.hpp"

#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>

namespace arclight {

class StaticFiles {
public:
    /// Serves the embedded files.
    explicit StaticFiles(std::span<const EmbeddedFile> files);
    /// Serves files from `dir` (read on each request, so edits show without a restart).
    explicit StaticFiles(std::filesystem::path dir);

    /// A response for a GET/HEAD of `path`, or nullopt when there is nothing to serve.
    /// `accept_encoding`: the request's Accept-Encoding header.
    std::optional<HttpResponse> serve(std::string_view path, std::string_view accept_encoding = {}) const;
    bool empty() const noexcept { return files_.empty() && dir_.empty(); }

private:
    std::optional<std::string> read(std::string_view rel) const;      // not a compressed copy
    std::optional<std::string> read_any(std::string_view rel) const;  // any file
    std::unordered_map<std::string, std::string_view> files_;
    std::filesystem::path dir_;
};

/// Whether an Accept-Encoding header value accepts `coding` ("br", "gzip"): named, or "*", with a
/// q-value above 0.
bool accepts_encoding(std::string_view accept_encoding, std::string_view coding);

/// The Content-Type for a file name, by extension.
std::string_view content_type_for(std::string_view name);

}  // namespace arclight
