// core/http/static_files: the UI's files, sent compressed (brotli or gzip copies built beside them)
// when the request's Accept-Encoding allows it, cached by whether their names are hashed.
#include <doctest/doctest.h>

#include "core/http/static_files.hpp"

#include <array>
#include <string>

using namespace arclight;

namespace {

std::string header(const HttpResponse& r, std::string_view name) {
    for (const auto& [k, v] : r.headers)
        if (k == name) return v;
    return {};
}

const std::array<EmbeddedFile, 6> kFiles{{
    {"index.html", "<!doctype html><p>ui</p>"},
    {"assets/app-1a2b.js", "console.log('identity')"},
    {"assets/app-1a2b.js.br", "BROTLI"},
    {"assets/app-1a2b.js.gz", "GZIP"},
    {"assets/small-3c4d.css", "p{}"},
    {"assets/only-gz-5e6f.css.gz", "orphan"},
}};

}  // namespace

TEST_CASE("static files: Accept-Encoding picks brotli, then gzip, else the file itself") {
    StaticFiles ui(kFiles);
    struct Case {
        const char* accept;
        const char* body;
        const char* encoding;
    };
    for (const auto& c : {Case{"gzip, deflate, br, zstd", "BROTLI", "br"}, Case{"br", "BROTLI", "br"},
                          Case{"gzip", "GZIP", "gzip"}, Case{"GZip;q=0.5", "GZIP", "gzip"},
                          Case{"br;q=0, gzip", "GZIP", "gzip"}, Case{"br;q=0.000, gzip;q=0", "console.log('identity')", ""},
                          Case{"*", "BROTLI", "br"}, Case{"*;q=0", "console.log('identity')", ""},
                          Case{"br;q=0, *", "GZIP", "gzip"}, Case{"", "console.log('identity')", ""},
                          Case{"identity", "console.log('identity')", ""}, Case{"deflate", "console.log('identity')", ""},
                          Case{" , ;q=, br ;q=1 ", "BROTLI", "br"}}) {
        CAPTURE(c.accept);
        auto r = ui.serve("/assets/app-1a2b.js", c.accept);
        REQUIRE(r);
        CHECK(r->body == c.body);
        CHECK(header(*r, "Content-Encoding") == c.encoding);
        CHECK(header(*r, "Vary") == "Accept-Encoding");
        CHECK(r->content_type == "text/javascript; charset=utf-8");
        CHECK(header(*r, "Cache-Control") == "public, max-age=31536000, immutable");
    }
}

TEST_CASE("static files: compressed copies are not served by their own names; files without copies are as they were") {
    StaticFiles ui(kFiles);
    CHECK_FALSE(ui.serve("/assets/app-1a2b.js.br", "br"));
    CHECK_FALSE(ui.serve("/assets/app-1a2b.js.gz", "gzip"));
    CHECK_FALSE(ui.serve("/assets/only-gz-5e6f.css.gz", "gzip"));
    auto css = ui.serve("/assets/small-3c4d.css", "gzip, br");
    REQUIRE(css);
    CHECK(css->body == "p{}");
    CHECK(header(*css, "Content-Encoding").empty());
    CHECK(header(*css, "Vary").empty());
    // A client-side route gets index.html, revalidated on each load.
    auto page = ui.serve("/workflows/abc", "gzip, br");
    REQUIRE(page);
    CHECK(page->body == "<!doctype html><p>ui</p>");
    CHECK(header(*page, "Cache-Control") == "no-cache");
}

TEST_CASE("static files: the accept_encoding parser") {
    CHECK(accepts_encoding("gzip, br", "br"));
    CHECK(accepts_encoding("BR", "br"));
    CHECK_FALSE(accepts_encoding("brotli", "br"));
    CHECK_FALSE(accepts_encoding("xbr, gzipx", "gzip"));
    CHECK_FALSE(accepts_encoding("br;q=0", "br"));
    CHECK(accepts_encoding("br;q=0.001", "br"));
    CHECK(accepts_encoding("br; level=1", "br"));
    CHECK_FALSE(accepts_encoding("", "gzip"));
}
