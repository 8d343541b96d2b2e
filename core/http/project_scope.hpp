#pragma once
// ProjectScope: the one check of what a request may touch, by project. Every resource a module
// stores belongs to one project; a module's service looks each resource up through the caller's
// scope: a resource of a project the caller does not reach answers 404 (its existence is not
// revealed), one the caller reaches without the needed permission 403. Lists show only the
// projects the scope reaches. Without a principal (auth disabled) everything is reachable.

#include "core/http/principal.hpp"

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace arclight {

struct HttpRequest;

/// The project of everything stored before projects existed, and of resources created without
/// a principal (auth disabled).
inline constexpr std::string_view kDefaultProject = "default";

class ProjectScope {
public:
    /// Everything reachable (auth disabled, internal callers such as triggers).
    ProjectScope() = default;
    explicit ProjectScope(std::shared_ptr<const Principal> principal) : principal_(std::move(principal)) {}
    /// The scope of a request's principal.
    static ProjectScope of(const HttpRequest& req);

    const Principal* principal() const noexcept { return principal_.get(); }
    bool unrestricted() const noexcept { return !principal_; }
    /// Whether the caller reaches `project`.
    bool reaches(std::string_view project) const { return !principal_ || principal_->member(project); }
    bool can(std::string_view project, std::string_view permission) const {
        return !principal_ || principal_->can(project, permission);
    }
    /// Admits an action on a resource of `project`: throws Error(not_found, `not_found`) when
    /// the caller does not reach the project, Error(forbidden) when it lacks `permission` there.
    /// Remembers the project (touched()) for the audit entry.
    void require(std::string_view project, std::string_view permission, const std::string& not_found) const;
    /// The projects a list may show for `permission`: nullopt = every project (no principal, or
    /// an instance admin without `requested`). `requested` (?project_id=) narrows it to that
    /// project; a project the caller does not reach gives an empty list.
    std::optional<std::vector<std::string>> listable(std::string_view permission,
                                                     const std::optional<std::string>& requested) const;
    /// The project a new resource goes to: `requested`, or else the caller's personal project
    /// (kDefaultProject without a principal). Throws Error(not_found) for a project the caller
    /// does not reach, Error(forbidden) without `permission` there.
    std::string for_create(const std::optional<std::string>& requested, std::string_view permission) const;
    /// The last project require() or for_create() admitted ("" if none).
    const std::string& touched() const noexcept { return touched_; }

private:
    std::shared_ptr<const Principal> principal_;
    mutable std::string touched_;
};

}  // namespace arclight
