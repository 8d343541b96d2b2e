#include "core/app/permissions.hpp"

#include <algorithm>
#include <stdexcept>

namespace arclight {

const std::vector<std::string>& role_names() {
    static const std::vector<std::string> r = {"admin", "editor", "operator", "viewer"};
    return r;
}

bool valid_role(std::string_view role) {
    return std::find(role_names().begin(), role_names().end(), role) != role_names().end();
}

namespace {

bool well_formed(std::string_view name) {
    auto dot = name.find('.');
    if (dot == 0 || dot == std::string_view::npos || dot + 1 == name.size()) return false;
    return std::all_of(name.begin(), name.end(), [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_'; });
}

}  // namespace

void PermissionCatalog::add(const std::string& module, Permission p) {
    if (!well_formed(p.name)) {
        throw std::logic_error("module " + module + " declares a malformed permission name: '" + p.name +
                               "' (expected <area>.<verb>, lower case)");
    }
    if (p.description.empty()) throw std::logic_error("module " + module + " declares permission " + p.name + " without a description");
    for (const auto& r : p.roles) {
        if (!valid_role(r) || r == "admin") {
            throw std::logic_error("module " + module + " gives permission " + p.name + " to an unknown role: " + r +
                                   " (admin holds every permission; list editor, operator or viewer)");
        }
    }
    auto it = std::lower_bound(entries_.begin(), entries_.end(), p.name,
                               [](const Entry& e, const std::string& n) { return e.permission.name < n; });
    if (it != entries_.end() && it->permission.name == p.name) {
        throw std::logic_error("permission " + p.name + " is declared by both " + it->module + " and " + module);
    }
    entries_.insert(it, Entry{module, std::move(p)});
}

bool PermissionCatalog::known(std::string_view name) const {
    auto it = std::lower_bound(entries_.begin(), entries_.end(), name,
                               [](const Entry& e, std::string_view n) { return e.permission.name < n; });
    return it != entries_.end() && it->permission.name == name;
}

std::set<std::string, std::less<>> PermissionCatalog::held_by(std::string_view role) const {
    std::set<std::string, std::less<>> out;
    if (role == "admin") {
        out.insert("*");
        return out;
    }
    for (const auto& e : entries_) {
        const auto& roles = e.permission.roles;
        if (std::find(roles.begin(), roles.end(), role) != roles.end()) out.insert(e.permission.name);
    }
    return out;
}

std::set<std::string, std::less<>> PermissionCatalog::instance_held_by(std::string_view role, bool admin_powers) const {
    std::set<std::string, std::less<>> out;
    if (role == "admin" && admin_powers) {
        out.insert("*");
        return out;
    }
    for (const auto& e : entries_) {
        if (!e.permission.instance) continue;
        const auto& roles = e.permission.roles;
        if (role == "admin" ? !roles.empty() : std::find(roles.begin(), roles.end(), role) != roles.end())
            out.insert(e.permission.name);
    }
    return out;
}

std::set<std::string, std::less<>> PermissionCatalog::held_in_project(std::string_view role) const {
    std::set<std::string, std::less<>> out;
    for (const auto& e : entries_) {
        if (e.permission.instance) continue;
        const auto& roles = e.permission.roles;
        if (role == "admin" || std::find(roles.begin(), roles.end(), role) != roles.end()) out.insert(e.permission.name);
    }
    return out;
}

}  // namespace arclight
