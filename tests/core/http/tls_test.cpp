// TLS on the server's own port: HTTPS, WSS, Secure cookies, HSTS; plain HTTP is refused.
#include "core/util/ids.hpp"
#include "tests/support/client.hpp"
#include "tests/support/test_env.hpp"

#include <doctest/doctest.h>

#include <boost/json.hpp>

#include <cstdlib>
#include <filesystem>

using namespace arclight;
using namespace arclight::test;

namespace {
struct SelfSigned {
    std::filesystem::path dir = std::filesystem::temp_directory_path() / ("arclight-tls-" + new_uuid());
    std::string cert = (dir / "cert.pem").string(), key = (dir / "key.pem").string();
    SelfSigned() {
        std::filesystem::create_directories(dir);
        auto cmd = "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost -keyout " + key + " -out " +
                   cert + " >/dev/null 2>&1";
        REQUIRE(std::system(cmd.c_str()) == 0);
    }
    ~SelfSigned() { std::filesystem::remove_all(dir); }
};
}  // namespace

TEST_CASE("TLS: HTTPS and WSS on the same port, Secure cookie, HSTS, plain HTTP refused") {
    SelfSigned pem;
    TestServer s(Overrides{{"server.tls_cert", pem.cert}, {"server.tls_key", pem.key}}, {}, false);
    auto h = https(s.port(), "GET", "/healthz");
    CHECK(h.status == 200);
    CHECK(h.header("strict-transport-security").find("max-age=") == 0);

    auto setup = https(s.port(), "POST", "/api/v1/auth/setup", R"({"username":"root","password":"a long enough passphrase"})");
    REQUIRE_MESSAGE(setup.status == 201, setup.body);
    auto cookie = setup.header("set-cookie");
    CHECK(cookie.find("; Secure") != std::string::npos);
    auto session = cookie.substr(0, cookie.find(';'));
    CHECK(https(s.port(), "GET", "/api/v1/auth/me", {}, {{"Cookie", session}}).status == 200);

    auto pong = boost::json::parse(wss_ping(s.port(), {{"Cookie", session}}));
    CHECK(pong.at("type").as_string() == "pong");

    // A plain-HTTP client gets no HTTP answer; the server keeps serving TLS.
    {
        RawConnection raw(s.port());
        raw.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
        auto out = raw.read_all(std::chrono::seconds(2));
        CHECK(out.find("HTTP/1.1 200") == std::string::npos);
    }
    CHECK(https(s.port(), "GET", "/healthz").status == 200);
}

TEST_CASE("TLS: a missing certificate file is a configuration error naming the key") {
    CHECK_THROWS_WITH_AS(make_config({{"server.tls_cert", "/nonexistent/cert.pem"}, {"server.tls_key", "/nonexistent/key.pem"}}),
                         doctest::Contains("server.tls_cert: no such file"), ConfigError);
}
