// arclight: the command line. serve | migrate | config check | config schema | version
#include "core/app/application.hpp"
#include "core/errors/error.hpp"
#include "core/log/log.hpp"
#include "modules/auth/api.hpp"

#include <CLI/CLI.hpp>

#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>

namespace {

arclight::Config load_config(const std::string& path) {
    std::optional<std::filesystem::path> file;
    if (!path.empty()) file = path;
    return arclight::Config::load(arclight::Application::config_schema(), file);
}

// The password for `user add`: ARCLIGHT_ADMIN_PASSWORD, else a prompt without echo (twice) on a
// terminal, else one line from standard input.
std::string read_password() {
    if (const char* env = std::getenv("ARCLIGHT_ADMIN_PASSWORD")) return env;
    if (!isatty(STDIN_FILENO)) {
        std::string line;
        std::getline(std::cin, line);
        return line;
    }
    auto prompt = [](const char* text) {
        std::cerr << text << std::flush;
        termios old{};
        tcgetattr(STDIN_FILENO, &old);
        termios quiet = old;
        quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
        tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
        std::string line;
        std::getline(std::cin, line);
        tcsetattr(STDIN_FILENO, TCSANOW, &old);
        std::cerr << "\n";
        return line;
    };
    auto first = prompt("Password: ");
    if (prompt("Repeat password: ") != first) throw std::runtime_error("the passwords do not match");
    return first;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App cli{"Arclight: design, run, connect, watch and improve AI agents in one server."};
    cli.require_subcommand(1);
    std::string config_path;
    auto add_config = [&](CLI::App* sub) {
        sub->add_option("-c,--config", config_path, "TOML config file (without one, built-in defaults apply)")
            ->envname("ARCLIGHT_CONFIG");
    };
    auto* serve = cli.add_subcommand("serve", "Run the server (UI, API and WebSocket on one port)");
    add_config(serve);
    auto* migrate = cli.add_subcommand("migrate", "Apply pending database migrations and exit");
    add_config(migrate);
    auto* config = cli.add_subcommand("config", "Inspect the configuration");
    config->require_subcommand(1);
    auto* check = config->add_subcommand("check", "Validate a config file (and environment overrides) without starting");
    add_config(check);
    auto* schema = config->add_subcommand("schema", "Print every key with its default and description");
    auto* user = cli.add_subcommand("user", "Manage users");
    user->require_subcommand(1);
    auto* user_add = user->add_subcommand(
        "add", "Create a user (password from ARCLIGHT_ADMIN_PASSWORD, a prompt, or one line of standard input)");
    add_config(user_add);
    std::string user_name, user_role = "viewer";
    bool user_admin = false;
    user_add->add_option("name", user_name, "Username")->required();
    user_add->add_flag("--admin", user_admin, "Make the user an admin (same as --role admin)");
    user_add->add_option("--role", user_role, "admin | editor | operator | viewer")->capture_default_str();
    auto* version = cli.add_subcommand("version", "Print the version");
    CLI11_PARSE(cli, argc, argv);

    try {
        if (*version) {
            std::cout << "arclight " << arclight::arclight_version() << "\n";
            return 0;
        }
        if (*schema) {
            std::cout << arclight::describe_schema(arclight::Application::config_schema());
            return 0;
        }
        if (*check) {
            auto cfg = load_config(config_path);
            std::cout << "configuration ok" << (config_path.empty() ? " (built-in defaults)" : " (" + config_path + ")")
                      << "\n";
            for (const auto& [key, source] : cfg.sources()) {
                if (source != "default") std::cout << "  " << key << " <- " << source << "\n";
            }
            return 0;
        }
        auto cfg = load_config(config_path);
        if (*migrate) {
            arclight::Application app(cfg);
            auto report = app.migrate();
            std::cout << "applied " << report.applied.size() << " migrations (" << report.already_applied
                      << " already applied)\n";
            for (const auto& m : report.applied) std::cout << "  " << m << "\n";
            return 0;
        }
        if (*user_add) {
            arclight::Application app(cfg);
            app.migrate();
            auto* admin = app.services().find<arclight::auth::UserAdmin>();
            if (!admin) throw std::runtime_error("the auth module is disabled ([auth] enabled = false)");
            auto password = read_password();
            auto id = admin->create_user(user_name, password, user_admin ? "admin" : user_role);
            std::cout << "created user " << user_name << " (" << (user_admin ? "admin" : user_role) << ", id " << id << ")\n";
            return 0;
        }
        arclight::Application app(cfg);
        return app.run(true);
    } catch (const arclight::Error& e) {
        std::cerr << "arclight: " << e.detail();
        for (const auto& f : e.errors()) std::cerr << "\n  " << f.pointer.substr(1) << ": " << f.message;
        std::cerr << "\n";
        return 1;
    } catch (const arclight::ConfigError& e) {
        std::cerr << "arclight: " << e.what() << "\n";
        return 2;
    } catch (const std::exception& e) {
        arclight::log::flush();
        std::cerr << "arclight: " << e.what() << "\n";
        return 1;
    }
}
