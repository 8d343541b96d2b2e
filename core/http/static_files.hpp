#pragma once
// Serves the web UI: from the files embedded at build time, or from a directory on disk
// (server.ui_dir, for UI development). Hashed assets under assets/ are cached for a year;
// index.html is revalidated on every load. Unknown paths without a file extension fall back to
// index.html so that client-side routes can be deep-linked.

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
    std::optional<HttpResponse> serve(std::string_view path) const;
    bool empty() const noexcept { return files_.empty() && dir_.empty(); }

private:
    std::optional<std::string> read(std::string_view rel) const;
    std::unordered_map<std::string, std::string_view> files_;
    std::filesystem::path dir_;
};

/// The Content-Type for a file name, by extension.
std::string_view content_type_for(std::string_view name);

}  // namespace arclight
