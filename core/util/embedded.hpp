#pragma once
// Files compiled into the binary at build time (the web UI, the schema migrations).

#include <span>
#include <string_view>

namespace arclight {

struct EmbeddedFile {
    std::string_view path;  ///< relative path, '/'-separated, e.g. "assets/index-3f2a.js"
    std::string_view data;
};

/// The built web UI (web/dist).
std::span<const EmbeddedFile> embedded_web();
/// Every schema/<module>/*.sql file, path relative to schema/.
std::span<const EmbeddedFile> embedded_schema();

}  // namespace arclight
