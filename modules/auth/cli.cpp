#include "modules/auth/cli.hpp"

#include "modules/auth/api.hpp"

#include <CLI/CLI.hpp>

#include <termios.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <memory>
#include <stdexcept>

namespace arclight::auth {
namespace {

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

struct UserAddArgs {
    std::string name;
    std::string role = "viewer";
    bool admin = false;
};

}  // namespace

std::vector<CliCommand> cli_commands() {
    auto args = std::make_shared<UserAddArgs>();
    CliCommand add;
    add.path = {"user", "add"};
    add.group_description = "Manage users";
    add.description = "Create a user (password from ARCLIGHT_ADMIN_PASSWORD, a prompt, or one line of standard input)";
    add.options = [args](CLI::App& cmd) {
        cmd.add_option("name", args->name, "Username")->required();
        cmd.add_flag("--admin", args->admin, "Make the user an admin (same as --role admin)");
        cmd.add_option("--role", args->role, "admin | editor | operator | viewer")->capture_default_str();
    };
    add.run = [args](ServiceRegistry& services) {
        auto& admin = services.require<UserAdmin>();
        auto password = read_password();
        const std::string role = args->admin ? "admin" : args->role;
        auto id = admin.create_user(args->name, password, role);
        std::cout << "created user " << args->name << " (" << role << ", id " << id << ")\n";
        return 0;
    };
    return {std::move(add)};
}

}  // namespace arclight::auth
