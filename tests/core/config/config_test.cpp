#include "core/config/config.hpp"

#include "core/app/application.hpp"
#include "core/util/ids.hpp"

#include <doctest/doctest.h>

#include "test_paths.hpp"

#include <fstream>

using namespace arclight;

namespace {

struct TempDir {
    std::filesystem::path path = std::filesystem::temp_directory_path() / ("arclight-cfg-" + new_uuid());
    TempDir() { std::filesystem::create_directories(path); }
    ~TempDir() { std::filesystem::remove_all(path); }
    std::filesystem::path write(const std::string& name, const std::string& text) const {
        auto p = path / name;
        std::filesystem::create_directories(p.parent_path());
        std::ofstream(p) << text;
        return p;
    }
};

EnvLookup env_of(std::map<std::string, std::string> vars) {
    return [vars](const std::string& n) -> std::optional<std::string> {
        auto it = vars.find(n);
        if (it == vars.end()) return std::nullopt;
        return it->second;
    };
}

std::string problems_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const ConfigError& e) {
        return e.what();
    }
    return {};
}

const auto kSchema = Application::config_schema();

}  // namespace

TEST_CASE("with no file the built-in defaults apply") {
    auto cfg = Config::load(kSchema, std::nullopt, env_of({}));
    CHECK(cfg.section("server").get_int("port") == 8080);
    CHECK(cfg.section("server").get_string("host") == "127.0.0.1");
    CHECK(cfg.section("database").get_string("url") == "sqlite:data/arclight.db");
    CHECK(cfg.section("system").get_bool("enabled"));
}

TEST_CASE("a file overrides defaults and environment variables override the file") {
    TempDir d;
    auto f = d.write("arclight.toml", "[server]\nport = 9100\nthreads = 3\n[database]\nurl = \"sqlite:/tmp/x.db\"\n");
    auto cfg = Config::load(kSchema, f, env_of({{"ARCLIGHT_SERVER_PORT", "9000"}, {"ARCLIGHT_SERVER_ACCESS_LOG", "false"}}));
    CHECK(cfg.section("server").get_int("port") == 9000);
    CHECK(cfg.section("server").get_int("threads") == 3);
    CHECK_FALSE(cfg.section("server").get_bool("access_log"));
    CHECK(cfg.section("database").get_string("url") == "sqlite:/tmp/x.db");
    CHECK(cfg.sources().at("server.port") == "ARCLIGHT_SERVER_PORT");
    CHECK(cfg.sources().at("server.threads") == f.string());
}

TEST_CASE("conf.d drop-ins apply in lexical order after the main file") {
    TempDir d;
    auto f = d.write("arclight.toml", "[server]\nport = 1\n");
    d.write("conf.d/20-b.toml", "[server]\nport = 3\n");
    d.write("conf.d/10-a.toml", "[server]\nport = 2\nthreads = 2\n");
    auto cfg = Config::load(kSchema, f, env_of({}));
    CHECK(cfg.section("server").get_int("port") == 3);
    CHECK(cfg.section("server").get_int("threads") == 2);
}

TEST_CASE("errors name the key, suggest close names and are all reported at once") {
    TempDir d;
    auto f = d.write("arclight.toml",
                     "[server]\nprot = 1\nport = \"eighty\"\nthreads = 9999\n[databse]\nurl = \"x\"\n[log]\nlevel = \"loud\"\n");
    auto msg = problems_of([&] { Config::load(kSchema, f, env_of({})); });
    CHECK(msg.find("unknown key server.prot (did you mean \"port\"?)") != std::string::npos);
    CHECK(msg.find("server.port must be an integer") != std::string::npos);
    CHECK(msg.find("server.threads: must be between 0 and 256, got 9999") != std::string::npos);
    CHECK(msg.find("unknown table [databse] (did you mean \"database\"?)") != std::string::npos);
    CHECK(msg.find("log.level: must be one of") != std::string::npos);
}

TEST_CASE("bad environment values and bad URLs are refused with the variable's name") {
    auto msg = problems_of([&] { Config::load(kSchema, std::nullopt, env_of({{"ARCLIGHT_SERVER_PORT", "80x"}})); });
    CHECK(msg.find("ARCLIGHT_SERVER_PORT: server.port must be an integer, got \"80x\"") != std::string::npos);
    msg = problems_of([&] { Config::load(kSchema, std::nullopt, env_of({{"ARCLIGHT_DATABASE_URL", "mysql://x"}})); });
    CHECK(msg.find("database.url: unsupported database URL") != std::string::npos);
    CHECK(msg.find("(from ARCLIGHT_DATABASE_URL)") != std::string::npos);
}

TEST_CASE("a missing file and a TOML syntax error are reported") {
    TempDir d;
    CHECK(problems_of([&] { Config::load(kSchema, d.path / "nope.toml", env_of({})); }).find("config file not found") !=
          std::string::npos);
    auto f = d.write("bad.toml", "[server\nport = 1\n");
    CHECK(problems_of([&] { Config::load(kSchema, f, env_of({})); }).find("bad.toml:1:") != std::string::npos);
}

TEST_CASE("the shipped config file is valid and documents every key") {
    auto shipped = std::filesystem::path(ARCLIGHT_SOURCE_DIR) / "config" / "arclight.toml";
    REQUIRE(std::filesystem::exists(shipped));
    CHECK_NOTHROW(Config::load(kSchema, shipped, env_of({})));
    std::ifstream in(shipped);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    for (const auto& t : kSchema) {
        CHECK_MESSAGE(text.find("[" + t.name + "]") != std::string::npos, "table missing: " << t.name);
        for (const auto& k : t.keys) {
            CHECK_MESSAGE(!k.description.empty(), t.name << "." << k.name);
            CHECK_MESSAGE(text.find(k.name + " = ") != std::string::npos, "key not documented: " << t.name << "." << k.name);
        }
    }
}
