#include "modules/auth/permissions.hpp"

#include <algorithm>

namespace arclight::auth {
namespace {

const std::vector<std::string> kViewer = {"auth.self",  "system.read", "flows.read", "runs.read",      "agents.read",
                                          "hub.read",   "memory.read", "rl.read",    "monitoring.read"};
const std::vector<std::string> kOperator = {"runs.start", "runs.cancel"};
const std::vector<std::string> kEditor = {"flows.write", "agents.write", "memory.write", "hub.write", "rl.write"};
const std::vector<std::string> kAdminOnly = {"users.admin", "audit.read", "hub.admin", "system.admin", "monitoring.write"};

}  // namespace

const std::vector<std::string>& roles() {
    static const std::vector<std::string> r = {"admin", "editor", "operator", "viewer"};
    return r;
}

bool valid_role(std::string_view role) {
    return std::find(roles().begin(), roles().end(), role) != roles().end();
}

const std::vector<std::string>& known_permissions() {
    static const std::vector<std::string> all = [] {
        std::vector<std::string> v;
        for (const auto* list : {&kViewer, &kOperator, &kEditor, &kAdminOnly}) v.insert(v.end(), list->begin(), list->end());
        std::sort(v.begin(), v.end());
        return v;
    }();
    return all;
}

std::set<std::string, std::less<>> role_permissions(std::string_view role) {
    std::set<std::string, std::less<>> out;
    if (role == "admin") {
        out.insert("*");
        return out;
    }
    if (role == "viewer" || role == "operator" || role == "editor") out.insert(kViewer.begin(), kViewer.end());
    if (role == "operator" || role == "editor") out.insert(kOperator.begin(), kOperator.end());
    if (role == "editor") out.insert(kEditor.begin(), kEditor.end());
    return out;
}

std::set<std::string, std::less<>> scoped_permissions(std::string_view role, const std::vector<std::string>& scopes) {
    auto owner = role_permissions(role);
    if (std::find(scopes.begin(), scopes.end(), "*") != scopes.end()) return owner;
    std::set<std::string, std::less<>> out;
    bool all = owner.count("*") > 0;
    for (const auto& s : scopes) {
        if (all || owner.count(s)) out.insert(s);
    }
    return out;
}

}  // namespace arclight::auth
