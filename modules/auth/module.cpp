#include "modules/auth/module.hpp"

#include "core/app/periodic.hpp"
#include "core/http/access.hpp"
#include "core/log/log.hpp"
#include "core/ws/ws_hub.hpp"
#include "modules/auth/cli.hpp"
#include "modules/auth/routes.hpp"
#include "modules/auth/service.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>


namespace arclight::auth {
namespace {

namespace asio = boost::asio;

AuthConfig read_config(const ConfigSection& c, bool tls) {
    AuthConfig a;
    a.min_password_length = static_cast<std::size_t>(c.get_int("min_password_length"));
    a.session_idle_ms = c.get_int("session_idle_minutes") * 60'000;
    a.session_absolute_ms = c.get_int("session_absolute_hours") * 3'600'000;
    a.cookie_secure = c.get_bool("cookie_secure") || tls;
    a.login_free_attempts = static_cast<int>(c.get_int("login_free_attempts"));
    a.address_free_attempts = static_cast<int>(c.get_int("address_free_attempts"));
    a.max_delay = std::chrono::seconds(c.get_int("max_delay_seconds"));
    a.setup_page = c.get_bool("setup_page");
    a.api_key_cache_ms = c.get_int("api_key_cache_ms");
    a.audit_retention_days = c.get_int("audit_retention_days");
    return a;
}

class AuthModule final : public Module {
public:
    explicit AuthModule(ModuleContext& ctx) : ctx_(ctx), service_(ctx.db, read_config(ctx.config, ctx.app.tls), ctx.permissions), projects_(ctx.db, service_, system_clock()), purge_task_(ctx.io, "auth") {
        ctx.services.provide<AuditLog>(&service_);
        ctx.services.provide<ProjectRegistry>(&projects_);
        ctx.services.provide<UserAdmin>(&service_);
        ctx.access.install(make_access_check(service_));
        ctx.ws.declare_topic("auth", "audit.read");
    }

    void register_routes(Router& r) override {
        add_routes(r, service_, projects_);
        add_project_routes(r, projects_);
    }

    void start() override {
        purge_task_.start(std::chrono::minutes(10), [this]() -> asio::awaitable<void> {
            co_await service_.purge_sessions();
            co_await service_.purge_audit();
        }, true);
    }

    void stop(std::chrono::steady_clock::time_point deadline) override { purge_task_.stop(deadline); }

private:
    ModuleContext& ctx_;
    AuthService service_;
    Projects projects_;
    PeriodicTask purge_task_;
};

}  // namespace

ModuleDescriptor descriptor() {
    ModuleDescriptor d{"auth",
            {},
            "Users, roles, sessions, API keys, login throttling and the audit log.",
            {
                {"min_password_length", std::int64_t{10}, "Shortest accepted password.", int_range(8, 128)},
                {"session_idle_minutes", std::int64_t{720}, "A browser session unused this long expires.",
                 int_range(1, 525600)},
                {"session_absolute_hours", std::int64_t{168}, "A browser session expires this long after login, used or not.",
                 int_range(1, 8760)},
                {"cookie_secure", false,
                 "Mark the session cookie Secure (HTTPS only). Always on when server.tls_cert is set; turn on when "
                 "users reach Arclight through a TLS-terminating proxy."},
                {"login_free_attempts", std::int64_t{5},
                 "Failed logins per account before each further attempt must wait (1 s, 2 s, 4 s, ...).", int_range(1, 1000)},
                {"address_free_attempts", std::int64_t{20},
                 "Failed logins per client address before each further attempt must wait.", int_range(1, 100000)},
                {"max_delay_seconds", std::int64_t{900}, "Longest wait imposed by login throttling.", int_range(1, 86400)},
                {"api_key_cache_ms", std::int64_t{1000},
                 "How long a verified API key is trusted without a database lookup (0 = look it up on every request). "
                 "Revoking a key, or disabling, changing or deleting its user, applies at once on the instance that "
                 "made the change and within this time on other instances.",
                 int_range(0, 60000)},
                {"audit_retention_days", std::int64_t{365},
                 "Audit entries are deleted this many days after they were recorded; 0 keeps every entry. Deletion "
                 "runs in the background in small batches (every 10 minutes).",
                 int_range(0, 36500)},
                {"setup_page", true,
                 "Offer the one-time setup page (create the first admin; only while no user exists, only from "
                 "loopback: the real client, behind a proxy listed in server.trusted_proxies). Without it, use "
                 "`arclight user add --admin NAME`."},
            },
            [](ModuleContext& ctx) { return std::make_unique<AuthModule>(ctx); }};
    d.permissions = {
        {"auth.self", "See yourself, change your password, manage your own API keys.", {"editor", "operator", "viewer"}, true},
        {"users.admin", "Create, change, disable and delete users.", {}, true},
        {"audit.read", "Read the audit log (and its live topic).", {}, true},
        {"projects.read", "See your projects and their members.", {"editor", "operator", "viewer"}, true},
        {"projects.admin", "Create team projects (instance admins reach every project).", {}, true},
        {"projects.manage", "Rename and delete a project, add and remove its members and set their roles (a project's admins).", {}},
    };
    d.commands = cli_commands();
    return d;
}

}  // namespace arclight::auth
