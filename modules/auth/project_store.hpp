#pragma once
// ProjectStore: the auth module's tables of projects and their members (schema/auth/0002).
// Blocking methods, called through Db::run.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace soci {
class session;
}

namespace arclight::auth {

struct Project {
    std::string id;
    std::string name;
    std::string kind;      ///< "personal" | "team"
    std::string owner_id;  ///< the user of a personal project
    std::int64_t created_at = 0, updated_at = 0;
};

struct Membership {
    Project project;
    std::string role;  ///< the member's role in the project
};

struct Member {
    std::string user_id;
    std::string username;
    std::string role;
};

class ProjectStore {
public:
    std::vector<Project> list(soci::session& s);
    std::optional<Project> find(soci::session& s, const std::string& id);
    /// The projects a user is a member of, with the role there.
    std::vector<Membership> memberships(soci::session& s, const std::string& user_id);
    void insert(soci::session& s, const Project& p);
    void rename(soci::session& s, const std::string& id, const std::string& name, std::int64_t at);
    void remove(soci::session& s, const std::string& id);
    std::vector<Member> members(soci::session& s, const std::string& project_id);
    /// Adds a member or changes its role.
    void put_member(soci::session& s, const std::string& project_id, const std::string& user_id, const std::string& role,
                    std::int64_t at);
    /// False when the user was not a member.
    bool remove_member(soci::session& s, const std::string& project_id, const std::string& user_id);
    /// Project admins of a project (to keep at least one in a team project that has members).
    int count_admins(soci::session& s, const std::string& project_id);
};

/// The id of a user's personal project.
std::string personal_project_id(const std::string& user_id);

}  // namespace arclight::auth
