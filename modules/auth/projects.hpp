#pragma once
// Projects (workspaces) and their members: the API behind /api/v1/projects. Every resource of
// every module belongs to one project; membership gives a role there (core's ProjectScope
// enforces it). Instance admins create team projects and reach every project; a project's
// admins manage its members.

#include "core/http/project_scope.hpp"
#include "modules/auth/api.hpp"
#include "modules/auth/project_store.hpp"

#include <boost/asio/awaitable.hpp>

#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace arclight {
class Db;
class Clock;
}  // namespace arclight

namespace arclight::auth {

class AuthService;

class Projects final : public ProjectRegistry {
public:
    Projects(Db& db, AuthService& auth, const Clock& clock);

    struct View {
        Project project;
        std::string role;  ///< the caller's role there ("admin" for an instance admin)
    };
    /// The caller's projects (every project for an instance admin).
    boost::asio::awaitable<std::vector<View>> list(const ProjectScope& scope);
    boost::asio::awaitable<View> get(const ProjectScope& scope, std::string id);
    boost::asio::awaitable<View> create(const ProjectScope& scope, std::string name, std::string ip);
    boost::asio::awaitable<View> rename(const ProjectScope& scope, std::string id, std::string name, std::string ip);
    boost::asio::awaitable<void> remove(const ProjectScope& scope, std::string id, std::string ip);
    boost::asio::awaitable<std::vector<Member>> members(const ProjectScope& scope, std::string id);
    boost::asio::awaitable<Member> put_member(const ProjectScope& scope, std::string id, std::string user_id, std::string role,
                                              std::string ip);
    boost::asio::awaitable<void> remove_member(const ProjectScope& scope, std::string id, std::string user_id, std::string ip);

    void add_holder(std::string what, std::function<std::size_t(soci::session&, const std::string& project)> count) override;

private:
    boost::asio::awaitable<void> audit(const ProjectScope& scope, std::string action, std::string project, std::string ip,
                                       boost::json::object detail);
    Db& db_;
    AuthService& auth_;
    const Clock& clock_;
    ProjectStore store_;
    std::mutex holders_m_;
    std::vector<std::pair<std::string, std::function<std::size_t(soci::session&, const std::string&)>>> holders_;
};

/// The name rule of projects: 1-100 characters, no control characters. Empty when valid.
std::string invalid_project_name(const std::string& name);

}  // namespace arclight::auth
