// arclight: the command line. serve | migrate | config check | config schema | version
#include "core/app/application.hpp"
#include "core/log/log.hpp"

#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>

namespace {

arclight::Config load_config(const std::string& path) {
    std::optional<std::filesystem::path> file;
    if (!path.empty()) file = path;
    return arclight::Config::load(arclight::Application::config_schema(), file);
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
        arclight::Application app(cfg);
        return app.run(true);
    } catch (const arclight::ConfigError& e) {
        std::cerr << "arclight: " << e.what() << "\n";
        return 2;
    } catch (const std::exception& e) {
        arclight::log::flush();
        std::cerr << "arclight: " << e.what() << "\n";
        return 1;
    }
}
