#pragma once
// Configuration: one TOML file, one table per module, every key declared once with its type,
// default, description and validator. Environment variables ARCLIGHT_<TABLE>_<KEY> override the
// file; files in conf.d/ beside it are applied on top in lexical order.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace arclight {

using ConfigValue = std::variant<bool, std::int64_t, double, std::string, std::vector<std::string>>;

/// One declared key. `validate` returns an empty string when the value is acceptable, else a
/// message (the caller prefixes it with the key's full name).
struct ConfigKey {
    std::string name;
    ConfigValue default_value;
    std::string description;
    std::function<std::string(const ConfigValue&)> validate = {};
};

/// One table: `[server]`, `[database]`, or a module's `[<module>]`.
struct ConfigTable {
    std::string name;
    std::string description;
    std::vector<ConfigKey> keys;
};

/// Every problem found while loading, each naming its key.
class ConfigError : public std::runtime_error {
public:
    explicit ConfigError(std::vector<std::string> problems);
    const std::vector<std::string>& problems() const noexcept { return problems_; }

private:
    std::vector<std::string> problems_;
};

/// A typed, read-only view of one table. Asking for an undeclared key or the wrong type is a
/// programmer error and throws std::logic_error.
class ConfigSection {
public:
    ConfigSection() = default;
    ConfigSection(std::string table, const std::map<std::string, ConfigValue>* values)
        : table_(std::move(table)), values_(values) {}

    const std::string& table() const noexcept { return table_; }
    bool get_bool(std::string_view key) const;
    std::int64_t get_int(std::string_view key) const;
    double get_double(std::string_view key) const;
    const std::string& get_string(std::string_view key) const;
    const std::vector<std::string>& get_list(std::string_view key) const;

private:
    const ConfigValue& get(std::string_view key) const;
    std::string table_;
    const std::map<std::string, ConfigValue>* values_ = nullptr;
};

/// Looks up an environment variable; injectable for tests.
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;
EnvLookup process_env();

class Config {
public:
    /// Loads `file` (when given; it must exist) and conf.d/*.toml beside it, applies environment
    /// overrides and validates everything against `schema`. Throws ConfigError listing every problem.
    static Config load(const std::vector<ConfigTable>& schema, const std::optional<std::filesystem::path>& file,
                       const EnvLookup& env = process_env());

    ConfigSection section(std::string_view table) const;
    /// Where each value came from ("default", a file path or an environment variable), for `config check`.
    const std::map<std::string, std::string>& sources() const noexcept { return sources_; }

private:
    std::map<std::string, std::map<std::string, ConfigValue>> values_;
    std::map<std::string, std::string> sources_;
};

/// The environment variable that overrides `table.key`.
std::string env_name(std::string_view table, std::string_view key);
/// Renders a value as TOML (for `config schema` and docs).
std::string to_toml(const ConfigValue& value);
/// The full schema as a commented TOML document.
std::string describe_schema(const std::vector<ConfigTable>& schema);

/// Common validators.
std::function<std::string(const ConfigValue&)> int_range(std::int64_t lo, std::int64_t hi);
std::function<std::string(const ConfigValue&)> one_of(std::vector<std::string> allowed);

}  // namespace arclight
