#include "core/http/project_scope.hpp"

#include "core/errors/error.hpp"
#include "core/http/message.hpp"

#include <fmt/format.h>

namespace arclight {

ProjectScope ProjectScope::of(const HttpRequest& req) { return ProjectScope(req.principal); }

void ProjectScope::require(std::string_view project, std::string_view permission, const std::string& not_found) const {
    if (!reaches(project)) throw Error(ErrorCode::not_found, not_found);
    if (!can(project, permission))
        throw Error(ErrorCode::forbidden, fmt::format("this needs the permission \"{}\" in the project", permission));
    touched_ = std::string(project);
}

std::optional<std::vector<std::string>> ProjectScope::listable(std::string_view permission,
                                                               const std::optional<std::string>& requested) const {
    if (requested && !requested->empty()) {
        if (!can(*requested, permission)) return std::vector<std::string>{};
        return std::vector<std::string>{*requested};
    }
    if (!principal_ || principal_->instance_admin) return std::nullopt;
    std::vector<std::string> out;
    for (const auto& [id, perms] : principal_->projects)
        if (perms.count("*") || perms.count(permission)) out.push_back(id);
    return out;
}

std::string ProjectScope::for_create(const std::optional<std::string>& requested, std::string_view permission) const {
    std::string project = requested && !requested->empty() ? *requested
                          : principal_ && !principal_->personal_project.empty() ? principal_->personal_project
                                                                                : std::string(kDefaultProject);
    // (An instance admin reaches every project, but creates only in one that exists.)
    bool exists = !principal_ || principal_->projects.count(project) > 0 || !principal_->instance_admin;
    if (!reaches(project) || !exists)
        throw Error(ErrorCode::not_found, "no project " + project, {{"/project_id", "is not a project of yours"}});
    if (!can(project, permission))
        throw Error(ErrorCode::forbidden, fmt::format("this needs the permission \"{}\" in project {}", permission, project));
    touched_ = project;
    return project;
}

}  // namespace arclight
