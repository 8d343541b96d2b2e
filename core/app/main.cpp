// arclight: the command line. serve | migrate | config check | config schema | vault init |
// vault rotate-key | version, and the subcommands modules contribute through their descriptors
// (e.g. auth's `user add`). The hidden `script-worker` is a process-isolation script worker
// (core/lua/script_worker.hpp).
#include "core/app/application.hpp"
#include "core/errors/error.hpp"
#include "core/log/log.hpp"
#include "core/lua/script_worker.hpp"
#include "core/vault/vault.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cstdlib>
#include <iostream>
#include <string_view>

namespace {

arclight::Config load_config(const std::string& path, const std::vector<arclight::ModuleDescriptor>& modules) {
    std::optional<std::filesystem::path> file;
    if (!path.empty()) file = path;
    return arclight::Config::load(arclight::Application::config_schema(modules), file);
}

}  // namespace

int main(int argc, char** argv) {
    // A script worker of workflow.script_isolation = "process" (hidden): before any configuration
    // is read or any thread started. Never returns.
    if (argc >= 2 && std::string_view(argv[1]) == "script-worker") arclight::lua::script_worker_main(argc, argv);
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
    auto* vault = cli.add_subcommand("vault", "The vault: the master key of the secrets stored at rest");
    vault->require_subcommand(1);
    std::string key_file_arg;
    auto* vault_init = vault->add_subcommand(
        "init", "Write a new master key (base64 of 32 random bytes) to a new file with mode 0600; never overwrites");
    add_config(vault_init);
    vault_init->add_option("--key-file", key_file_arg,
                           "Where (default: vault.key_file, or arclight.vault.key beside a SQLite database)");
    auto* vault_rotate = vault->add_subcommand(
        "rotate-key", "Re-encrypt every secret under a new key in one transaction; the old key file is kept as <file>.old. "
                      "Stop the servers first (they hold the old key)");
    add_config(vault_rotate);
    vault_rotate->add_option("--key-file", key_file_arg, "Where the new key goes (default: the key file in use)");
    // Subcommands the modules contribute (CliCommand): groups are created on first use.
    const auto descriptors = arclight::builtin_modules();
    struct Contributed {
        const arclight::ModuleDescriptor* module;
        const arclight::CliCommand* command;
        CLI::App* app;
    };
    std::vector<Contributed> contributed;
    for (const auto& d : descriptors) {
        for (const auto& c : d.commands) {
            CLI::App* parent = &cli;
            for (std::size_t i = 0; i + 1 < c.path.size(); ++i) {
                CLI::App* group = nullptr;
                try {
                    group = parent->get_subcommand(c.path[i]);
                } catch (const CLI::OptionNotFound&) {
                    group = parent->add_subcommand(c.path[i], i == 0 ? c.group_description : std::string());
                    group->require_subcommand(1);
                }
                parent = group;
            }
            auto* sub = parent->add_subcommand(c.path.back(), c.description);
            add_config(sub);
            if (c.options) c.options(*sub);
            contributed.push_back({&d, &c, sub});
        }
    }
    auto* version = cli.add_subcommand("version", "Print the version");
    CLI11_PARSE(cli, argc, argv);

    try {
        if (*version) {
            std::cout << "arclight " << arclight::arclight_version() << "\n";
            return 0;
        }
        if (*schema) {
            std::cout << arclight::describe_schema(arclight::Application::config_schema(descriptors));
            return 0;
        }
        if (*check) {
            auto cfg = load_config(config_path, descriptors);
            std::cout << "configuration ok" << (config_path.empty() ? " (built-in defaults)" : " (" + config_path + ")")
                      << "\n";
            for (const auto& [key, source] : cfg.sources()) {
                if (source != "default") std::cout << "  " << key << " <- " << source << "\n";
            }
            return 0;
        }
        auto cfg = load_config(config_path, descriptors);
        auto vault_settings = [&cfg] {
            arclight::VaultSettings vs;
            vs.key_file = cfg.section("vault").get_string("key_file");
            if (const char* env = std::getenv("ARCLIGHT_VAULT_KEY")) vs.env_key = std::string(env);
            vs.database_url = cfg.section("database").get_string("url");
            return vs;
        };
        if (*vault_init) {
            auto path = arclight::vault_init(vault_settings(), key_file_arg);
            std::cout << "wrote a new vault key to " << path.string() << " (mode 0600)\n";
            auto vs = vault_settings();
            if (vs.key_file != path.string() && path != arclight::default_key_file(vs.database_url))
                std::cout << "set vault.key_file = \"" << path.string() << "\" (or ARCLIGHT_VAULT_KEY_FILE) on every instance\n";
            std::cout << "back it up with the database: the secrets do not open without it\n";
            return 0;
        }
        if (*vault_rotate) {
            arclight::Application app(cfg, descriptors);
            app.migrate();
            app.open_vault();
            auto vs = vault_settings();
            auto r = arclight::rotate_vault_key(app.db(), app.vault(), vs, key_file_arg);
            std::cout << "re-encrypted " << r.secrets << " secrets under a new key, written to " << r.key_file.string() << "\n";
            if (!r.old_file.empty()) std::cout << "the previous key is kept in " << r.old_file.string() << "\n";
            if (vs.env_key)
                std::cout << "the key came from ARCLIGHT_VAULT_KEY: set it to the content of " << r.key_file.string()
                          << " on every instance before they start\n";
            return 0;
        }
        if (*migrate) {
            arclight::Application app(cfg, descriptors);
            auto report = app.migrate();
            std::cout << "applied " << report.applied.size() << " migrations (" << report.already_applied
                      << " already applied)\n";
            for (const auto& m : report.applied) std::cout << "  " << m << "\n";
            return 0;
        }
        for (const auto& c : contributed) {
            if (!*c.app) continue;
            if (!cfg.section(c.module->name).get_bool("enabled")) {
                throw std::runtime_error(fmt::format("the {0} module is disabled ([{0}] enabled = false)", c.module->name));
            }
            arclight::Application app(cfg, descriptors);
            app.migrate();
            app.open_vault();
            return c.command->run(app.services());
        }
        arclight::Application app(cfg, descriptors);
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
