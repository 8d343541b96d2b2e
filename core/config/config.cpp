#include "core/config/config.hpp"
#include "core/util/text.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <toml++/toml.h>

namespace arclight {
namespace {

std::string type_name(const ConfigValue& v) {
    switch (v.index()) {
        case 0: return "a boolean";
        case 1: return "an integer";
        case 2: return "a number";
        case 3: return "a string";
        default: return "an array of strings";
    }
}

std::string did_you_mean(std::string_view name, const std::vector<std::string>& candidates) {
    std::string best = closest_name(name, candidates);
    return best.empty() ? std::string{} : fmt::format(" (did you mean \"{}\"?)", best);
}

// Converts a TOML node to the declared type of `like`; nullopt on a type mismatch.
std::optional<ConfigValue> from_toml(const toml::node& node, const ConfigValue& like) {
    switch (like.index()) {
        case 0:
            if (auto v = node.value_exact<bool>()) return ConfigValue{*v};
            return std::nullopt;
        case 1:
            if (auto v = node.value_exact<std::int64_t>()) return ConfigValue{*v};
            return std::nullopt;
        case 2:
            if (node.is_floating_point() || node.is_integer()) return ConfigValue{*node.value<double>()};
            return std::nullopt;
        case 3:
            if (auto v = node.value_exact<std::string>()) return ConfigValue{*v};
            return std::nullopt;
        default: {
            const auto* arr = node.as_array();
            if (!arr) return std::nullopt;
            std::vector<std::string> out;
            for (const auto& el : *arr) {
                auto s = el.value_exact<std::string>();
                if (!s) return std::nullopt;
                out.push_back(*s);
            }
            return ConfigValue{std::move(out)};
        }
    }
}

std::optional<ConfigValue> from_env(const std::string& text, const ConfigValue& like) {
    switch (like.index()) {
        case 0: {
            std::string t;
            for (char c : text) t += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            if (t == "true" || t == "1" || t == "yes" || t == "on") return ConfigValue{true};
            if (t == "false" || t == "0" || t == "no" || t == "off") return ConfigValue{false};
            return std::nullopt;
        }
        case 1: {
            if (text.empty()) return std::nullopt;
            char* end = nullptr;
            errno = 0;
            long long v = std::strtoll(text.c_str(), &end, 10);
            if (errno || *end != '\0') return std::nullopt;
            return ConfigValue{static_cast<std::int64_t>(v)};
        }
        case 2: {
            if (text.empty()) return std::nullopt;
            char* end = nullptr;
            double v = std::strtod(text.c_str(), &end);
            if (*end != '\0') return std::nullopt;
            return ConfigValue{v};
        }
        case 3: return ConfigValue{text};
        default: {
            std::vector<std::string> out;
            std::size_t start = 0;
            while (start <= text.size() && !text.empty()) {
                auto comma = text.find(',', start);
                auto part = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
                auto b = part.find_first_not_of(" \t");
                auto e = part.find_last_not_of(" \t");
                if (b != std::string::npos) out.push_back(part.substr(b, e - b + 1));
                if (comma == std::string::npos) break;
                start = comma + 1;
            }
            return ConfigValue{std::move(out)};
        }
    }
}

void apply_file(const std::vector<ConfigTable>& schema, const std::filesystem::path& path,
                std::map<std::string, std::map<std::string, ConfigValue>>& values,
                std::map<std::string, std::string>& sources, std::vector<std::string>& problems) {
    toml::table doc;
    try {
        doc = toml::parse_file(path.string());
    } catch (const toml::parse_error& e) {
        const auto& where = e.source().begin;
        problems.push_back(fmt::format("{}:{}:{}: {}", path.string(), where.line, where.column, e.description()));
        return;
    }
    std::vector<std::string> table_names;
    for (const auto& t : schema) table_names.push_back(t.name);
    for (const auto& [tkey, tnode] : doc) {
        std::string tname(tkey.str());
        auto it = std::find_if(schema.begin(), schema.end(), [&](const ConfigTable& t) { return t.name == tname; });
        if (it == schema.end()) {
            problems.push_back(fmt::format("{}: unknown table [{}]{}", path.string(), tname, did_you_mean(tname, table_names)));
            continue;
        }
        const auto* tbl = tnode.as_table();
        if (!tbl) {
            problems.push_back(fmt::format("{}: {} must be a table", path.string(), tname));
            continue;
        }
        std::vector<std::string> key_names;
        for (const auto& k : it->keys) key_names.push_back(k.name);
        for (const auto& [kkey, knode] : *tbl) {
            std::string kname(kkey.str());
            auto kit = std::find_if(it->keys.begin(), it->keys.end(), [&](const ConfigKey& k) { return k.name == kname; });
            if (kit == it->keys.end()) {
                problems.push_back(fmt::format("{}: unknown key {}.{}{}", path.string(), tname, kname,
                                               did_you_mean(kname, key_names)));
                continue;
            }
            auto v = from_toml(knode, kit->default_value);
            if (!v) {
                problems.push_back(fmt::format("{}: {}.{} must be {}", path.string(), tname, kname, type_name(kit->default_value)));
                continue;
            }
            values[tname][kname] = std::move(*v);
            sources[tname + "." + kname] = path.string();
        }
    }
}

}  // namespace

ConfigError::ConfigError(std::vector<std::string> problems)
    : std::runtime_error([&] {
          std::string msg = "invalid configuration:";
          for (const auto& p : problems) msg += "\n  " + p;
          return msg;
      }()),
      problems_(std::move(problems)) {}

const ConfigValue& ConfigSection::get(std::string_view key) const {
    if (!values_) throw std::logic_error("config section not loaded: " + table_);
    auto it = values_->find(std::string(key));
    if (it == values_->end()) throw std::logic_error(fmt::format("undeclared config key {}.{}", table_, key));
    return it->second;
}
bool ConfigSection::get_bool(std::string_view key) const { return std::get<bool>(get(key)); }
std::int64_t ConfigSection::get_int(std::string_view key) const { return std::get<std::int64_t>(get(key)); }
double ConfigSection::get_double(std::string_view key) const { return std::get<double>(get(key)); }
const std::string& ConfigSection::get_string(std::string_view key) const { return std::get<std::string>(get(key)); }
const std::vector<std::string>& ConfigSection::get_list(std::string_view key) const {
    return std::get<std::vector<std::string>>(get(key));
}

EnvLookup process_env() {
    return [](const std::string& name) -> std::optional<std::string> {
        if (const char* v = std::getenv(name.c_str())) return std::string(v);
        return std::nullopt;
    };
}

std::string env_name(std::string_view table, std::string_view key) {
    std::string out = "ARCLIGHT_";
    for (char c : table) out += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    out += '_';
    for (char c : key) out += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return out;
}

Config Config::load(const std::vector<ConfigTable>& schema, const std::optional<std::filesystem::path>& file,
                    const EnvLookup& env) {
    Config cfg;
    std::vector<std::string> problems;
    for (const auto& t : schema) {
        for (const auto& k : t.keys) {
            cfg.values_[t.name][k.name] = k.default_value;
            cfg.sources_[t.name + "." + k.name] = "default";
        }
    }
    if (file) {
        std::error_code ec;
        if (!std::filesystem::is_regular_file(*file, ec)) {
            throw ConfigError({fmt::format("{}: config file not found", file->string())});
        }
        apply_file(schema, *file, cfg.values_, cfg.sources_, problems);
        auto dropins = file->parent_path() / "conf.d";
        if (std::filesystem::is_directory(dropins, ec)) {
            std::vector<std::filesystem::path> files;
            for (const auto& e : std::filesystem::directory_iterator(dropins)) {
                if (e.path().extension() == ".toml") files.push_back(e.path());
            }
            std::sort(files.begin(), files.end());
            for (const auto& f : files) apply_file(schema, f, cfg.values_, cfg.sources_, problems);
        }
    }
    for (const auto& t : schema) {
        for (const auto& k : t.keys) {
            auto name = env_name(t.name, k.name);
            if (auto text = env(name)) {
                auto v = from_env(*text, k.default_value);
                if (!v) {
                    problems.push_back(fmt::format("{}: {}.{} must be {}, got \"{}\"", name, t.name, k.name,
                                                   type_name(k.default_value), *text));
                    continue;
                }
                cfg.values_[t.name][k.name] = std::move(*v);
                cfg.sources_[t.name + "." + k.name] = name;
            }
        }
    }
    for (const auto& t : schema) {
        for (const auto& k : t.keys) {
            if (!k.validate) continue;
            auto msg = k.validate(cfg.values_[t.name][k.name]);
            if (!msg.empty()) {
                problems.push_back(fmt::format("{}.{}: {} (from {})", t.name, k.name, msg, cfg.sources_[t.name + "." + k.name]));
            }
        }
    }
    if (!problems.empty()) throw ConfigError(std::move(problems));
    return cfg;
}

ConfigSection Config::section(std::string_view table) const {
    auto it = values_.find(std::string(table));
    if (it == values_.end()) throw std::logic_error(fmt::format("undeclared config table {}", table));
    return ConfigSection(it->first, &it->second);
}

std::string to_toml(const ConfigValue& value) {
    switch (value.index()) {
        case 0: return std::get<bool>(value) ? "true" : "false";
        case 1: return std::to_string(std::get<std::int64_t>(value));
        case 2: return fmt::format("{}", std::get<double>(value));
        case 3: {
            std::string out = "\"";
            for (char c : std::get<std::string>(value)) {
                if (c == '"' || c == '\\') out += '\\';
                out += c;
            }
            return out + "\"";
        }
        default: {
            std::string out = "[";
            bool first = true;
            for (const auto& s : std::get<std::vector<std::string>>(value)) {
                if (!first) out += ", ";
                first = false;
                out += to_toml(ConfigValue{s});
            }
            return out + "]";
        }
    }
}

std::string describe_schema(const std::vector<ConfigTable>& schema) {
    std::string out;
    for (const auto& t : schema) {
        out += fmt::format("# {}\n[{}]\n", t.description, t.name);
        for (const auto& k : t.keys) {
            out += fmt::format("# {} (env: {})\n{} = {}\n", k.description, env_name(t.name, k.name), k.name,
                               to_toml(k.default_value));
        }
        out += "\n";
    }
    return out;
}

std::function<std::string(const ConfigValue&)> int_range(std::int64_t lo, std::int64_t hi) {
    return [lo, hi](const ConfigValue& v) -> std::string {
        auto x = std::get<std::int64_t>(v);
        if (x < lo || x > hi) return fmt::format("must be between {} and {}, got {}", lo, hi, x);
        return {};
    };
}

std::function<std::string(const ConfigValue&)> one_of(std::vector<std::string> allowed) {
    return [allowed = std::move(allowed)](const ConfigValue& v) -> std::string {
        const auto& s = std::get<std::string>(v);
        if (std::find(allowed.begin(), allowed.end(), s) != allowed.end()) return {};
        return fmt::format("must be one of {}, got \"{}\"", fmt::join(allowed, ", "), s);
    };
}

}  // namespace arclight
