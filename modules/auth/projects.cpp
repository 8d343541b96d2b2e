#include "modules/auth/projects.hpp"

#include "core/app/permissions.hpp"
#include "core/db/db.hpp"
#include "core/errors/error.hpp"
#include "core/time/time.hpp"
#include "core/util/ids.hpp"
#include "modules/auth/service.hpp"

#include <fmt/format.h>
#include <soci/soci.h>

namespace arclight::auth {

namespace {
constexpr const char* kManage = "projects.manage";
std::string no_project(const std::string& id) { return "no project " + id; }
}  // namespace

std::string invalid_project_name(const std::string& name) {
    if (name.empty() || name.size() > 100) return "1-100 characters";
    for (unsigned char c : name)
        if (c < 0x20 || c == 0x7f) return "no control characters";
    return {};
}

Projects::Projects(Db& db, AuthService& auth, const Clock& clock) : db_(db), auth_(auth), clock_(clock) {}

void Projects::add_holder(std::string what, std::function<std::size_t(soci::session&, const std::string&)> count) {
    std::lock_guard lk(holders_m_);
    holders_.emplace_back(std::move(what), std::move(count));
}

boost::asio::awaitable<void> Projects::audit(const ProjectScope& scope, std::string action, std::string project,
                                             std::string ip, boost::json::object detail) {
    const auto* p = scope.principal();
    AuditEntry e{p ? p->user_id : "", p ? p->username : "", std::move(action), project, "success", std::move(ip),
                 std::move(detail), project};
    co_await auth_.record(std::move(e));
}

boost::asio::awaitable<std::vector<Projects::View>> Projects::list(const ProjectScope& scope) {
    const Principal* p = scope.principal();
    auto q = [this, p](soci::session& s) {
        std::vector<View> out;
        if (!p) {
            for (auto& pr : store_.list(s)) out.push_back({std::move(pr), "admin"});
            return out;
        }
        if (p->instance_admin) {
            for (auto& pr : store_.list(s)) out.push_back({std::move(pr), "admin"});
            return out;
        }
        for (auto& m : store_.memberships(s, p->user_id))
            if (p->member(m.project.id)) out.push_back({std::move(m.project), p->role == "admin" ? "admin" : m.role});
        return out;
    };
    co_return co_await db_.run(std::move(q));
}

boost::asio::awaitable<Projects::View> Projects::get(const ProjectScope& scope, std::string id) {
    if (!scope.reaches(id)) throw Error(ErrorCode::not_found, no_project(id));
    auto all = co_await list(scope);
    for (auto& v : all)
        if (v.project.id == id) co_return std::move(v);
    throw Error(ErrorCode::not_found, no_project(id));
}

boost::asio::awaitable<Projects::View> Projects::create(const ProjectScope& scope, std::string name, std::string ip) {
    if (auto why = invalid_project_name(name); !why.empty())
        throw Error(ErrorCode::validation_failed, "invalid project", {{"/name", why}});
    auto now = clock_.now_ms();
    Project pr{new_uuid(), name, "team", "", now, now};
    auto q = [this, pr](soci::session& s) { store_.insert(s, pr); };
    co_await db_.run(std::move(q));
    auth_.forget_keys();  // instance admins' cached keys reach the new project
    {
        std::string action = "project.create";
        boost::json::object detail{{"name", name}};
        co_await audit(scope, std::move(action), pr.id, std::move(ip), std::move(detail));
    }
    co_return View{pr, "admin"};
}

boost::asio::awaitable<Projects::View> Projects::rename(const ProjectScope& scope, std::string id, std::string name,
                                                        std::string ip) {
    scope.require(id, kManage, no_project(id));
    if (auto why = invalid_project_name(name); !why.empty())
        throw Error(ErrorCode::validation_failed, "invalid project", {{"/name", why}});
    auto now = clock_.now_ms();
    auto q = [this, id, name, now](soci::session& s) {
        if (!store_.find(s, id)) return false;
        store_.rename(s, id, name, now);
        return true;
    };
    if (!co_await db_.run(std::move(q))) throw Error(ErrorCode::not_found, no_project(id));
    {
        std::string action = "project.rename";
        boost::json::object detail{{"name", name}};
        co_await audit(scope, std::move(action), id, std::move(ip), std::move(detail));
    }
    co_return co_await get(scope, id);
}

boost::asio::awaitable<void> Projects::remove(const ProjectScope& scope, std::string id, std::string ip) {
    scope.require(id, kManage, no_project(id));
    std::vector<std::pair<std::string, std::function<std::size_t(soci::session&, const std::string&)>>> holders;
    {
        std::lock_guard lk(holders_m_);
        holders = holders_;
    }
    auto q = [this, id, holders](soci::session& s) -> std::string {
        WriteTransaction tx(s, db_.backend() == DbBackend::sqlite);  // nothing moves in while it is checked
        auto pr = store_.find(s, id);
        if (!pr) return "404";
        if (pr->kind == "personal") return "a personal project is deleted only with its user";
        std::string held;
        for (const auto& [what, count] : holders) {
            auto n = count(s, id);
            if (n > 0) held += (held.empty() ? "" : ", ") + fmt::format("{} {}", n, what);
        }
        if (!held.empty()) return "the project still holds " + held + "; move or delete them first";
        store_.remove(s, id);
        tx.commit();
        return {};
    };
    auto refused = co_await db_.run(std::move(q));
    if (refused == "404") throw Error(ErrorCode::not_found, no_project(id));
    if (!refused.empty()) throw Error(ErrorCode::conflict, refused);
    auth_.forget_keys();
    {
        std::string action = "project.delete";
        boost::json::object detail{};
        co_await audit(scope, std::move(action), id, std::move(ip), std::move(detail));
    }
}

boost::asio::awaitable<std::vector<Member>> Projects::members(const ProjectScope& scope, std::string id) {
    if (!scope.reaches(id)) throw Error(ErrorCode::not_found, no_project(id));
    auto q = [this, id](soci::session& s) { return store_.members(s, id); };
    co_return co_await db_.run(std::move(q));
}

boost::asio::awaitable<Member> Projects::put_member(const ProjectScope& scope, std::string id, std::string user_id,
                                                    std::string role, std::string ip) {
    scope.require(id, kManage, no_project(id));
    std::vector<FieldError> errs;
    if (!valid_role(role)) errs.push_back({"/role", "one of admin, editor, operator, viewer"});
    if (user_id.empty()) errs.push_back({"/user_id", "is required"});
    if (!errs.empty()) throw Error(ErrorCode::validation_failed, "invalid member", errs);
    auto now = clock_.now_ms();
    auto q = [this, id, user_id, role, now](soci::session& s) -> std::optional<Member> {
        auto pr = store_.find(s, id);
        if (!pr) throw Error(ErrorCode::not_found, no_project(id));
        if (pr->kind == "personal") throw Error(ErrorCode::conflict, "a personal project has only its owner");
        std::string username, uid;
        soci::indicator ind = soci::i_null, ind2 = soci::i_null;
        if (user_id.rfind("name:", 0) == 0) {
            username = user_id.substr(5);
            s << "SELECT id FROM auth_users WHERE username = :n", soci::use(username), soci::into(uid, ind);
        } else {
            uid = user_id;
            s << "SELECT username FROM auth_users WHERE id = :id", soci::use(uid), soci::into(username, ind2);
            ind = ind2;
        }
        if (ind != soci::i_ok) return std::nullopt;
        store_.put_member(s, id, uid, role, now);
        return Member{uid, username, role};
    };
    auto m = co_await db_.run(std::move(q));
    if (!m) throw Error(ErrorCode::validation_failed, "invalid member", {{"/user_id", "no such user"}});
    auth_.forget_keys();
    {
        std::string action = "project.member.put";
        boost::json::object detail{{"user_id", m->user_id}, {"role", role}};
        co_await audit(scope, std::move(action), id, std::move(ip), std::move(detail));
    }
    co_return std::move(*m);
}

boost::asio::awaitable<void> Projects::remove_member(const ProjectScope& scope, std::string id, std::string user_id,
                                                     std::string ip) {
    scope.require(id, kManage, no_project(id));
    auto q = [this, id, user_id](soci::session& s) -> int {
        auto pr = store_.find(s, id);
        if (!pr) return 1;
        if (pr->kind == "personal") return 3;
        return store_.remove_member(s, id, user_id) ? 0 : 2;
    };
    int code = co_await db_.run(std::move(q));
    if (code == 1) throw Error(ErrorCode::not_found, no_project(id));
    if (code == 2) throw Error(ErrorCode::not_found, "no member " + user_id + " in project " + id);
    if (code == 3) throw Error(ErrorCode::conflict, "a personal project keeps its owner");
    auth_.forget_keys();
    {
        std::string action = "project.member.remove";
        boost::json::object detail{{"user_id", user_id}};
        co_await audit(scope, std::move(action), id, std::move(ip), std::move(detail));
    }
}

}  // namespace arclight::auth
