#include "core/app/application.hpp"

#include "core/exec/compute_pool.hpp"

#include "core/bus/bus.hpp"
#include "core/db/db.hpp"
#include "core/db/notify.hpp"
#include "core/http/access.hpp"
#include "core/http/router.hpp"
#include "core/http/server.hpp"
#include "core/http/static_files.hpp"
#include "core/log/log.hpp"
#include "core/util/embedded.hpp"
#include "core/time/time.hpp"
#include "core/util/ids.hpp"
#include "core/vault/vault.hpp"
#include "core/ws/ws_hub.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/json.hpp>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <thread>

namespace arclight {

namespace asio = boost::asio;
namespace json = boost::json;

#ifndef ARCLIGHT_VERSION
#define ARCLIGHT_VERSION "0.0.0-dev"
#endif

std::string_view arclight_version() { return ARCLIGHT_VERSION; }

namespace {

std::function<std::string(const ConfigValue&)> file_or_empty() {
    return [](const ConfigValue& v) -> std::string {
        const auto& path = std::get<std::string>(v);
        std::error_code ec;
        if (path.empty() || std::filesystem::is_regular_file(path, ec)) return {};
        return "no such file: " + path;
    };
}

std::function<std::string(const ConfigValue&)> valid_db_url() {
    return [](const ConfigValue& v) -> std::string {
        try {
            parse_db_url(std::get<std::string>(v));
            return {};
        } catch (const std::exception& e) {
            return e.what();
        }
    };
}

std::function<std::string(const ConfigValue&)> valid_host() {
    return [](const ConfigValue& v) -> std::string {
        boost::system::error_code ec;
        asio::ip::make_address(std::get<std::string>(v), ec);
        return ec ? "must be an IPv4 or IPv6 address, e.g. 127.0.0.1 or 0.0.0.0" : std::string{};
    };
}

std::function<std::string(const ConfigValue&)> valid_proxies() {
    return [](const ConfigValue& v) -> std::string {
        for (const auto& entry : std::get<std::vector<std::string>>(v)) {
            if (auto why = TrustedProxies::entry_problem(entry); !why.empty()) return why;
        }
        return {};
    };
}

std::size_t threads_or_cores(std::int64_t n, std::size_t fallback_multiplier, std::size_t minimum) {
    if (n > 0) return static_cast<std::size_t>(n);
    auto cores = std::max(1u, std::thread::hardware_concurrency());
    return std::max<std::size_t>(minimum, cores * fallback_multiplier);
}

}  // namespace

std::vector<ConfigTable> Application::config_schema(const std::vector<ModuleDescriptor>& modules) {
    std::vector<ConfigTable> schema = {
        {"server",
         "HTTP server: the UI, the API and /ws share one port.",
         {
             {"host", std::string("127.0.0.1"), "Address to listen on; 0.0.0.0 for every interface.", valid_host()},
             {"port", std::int64_t{8080}, "TCP port; 0 picks a free port.", int_range(0, 65535)},
             {"threads", std::int64_t{0}, "I/O threads; 0 means one per CPU core.", int_range(0, 256)},
             {"blocking_threads", std::int64_t{0},
              "Threads for blocking work (database queries); 0 means max(4, 2 x cores).", int_range(0, 1024)},
             {"compute_threads", std::int64_t{0},
              "Threads for CPU-bound work (script tasks), apart from the I/O threads so that long scripts never "
              "delay /healthz, the UI or the API; 0 means one per CPU core.",
              int_range(0, 1024)},
             {"compute_queue", std::int64_t{256},
              "Jobs waiting for a compute thread beyond which new work that can be refused is: a webhook whose caller "
              "waits for a run with script tasks answers 503 with Retry-After. Runs already started wait their turn.",
              int_range(1, 1000000)},
             {"compute_nice", std::int64_t{10},
              "Added to the compute threads' nice value (Linux): they yield the CPU to the I/O threads. 0 keeps "
              "the process's priority.",
              int_range(0, 19)},
             {"compute_retry_after_s", std::int64_t{1}, "The Retry-After of a 503 answered because the compute queue "
              "is full.", int_range(1, 3600)},
             {"ui_dir", std::string(""),
              "Serve the web UI from this directory instead of the copy embedded in the binary (UI development)."},
             {"max_header_bytes", std::int64_t{16384}, "Largest accepted request head (431 above).",
              int_range(1024, 1 << 20)},
             {"max_header_fields", std::int64_t{100}, "Most header fields accepted in a request head (431 above).",
              int_range(8, 10000)},
             {"max_body_bytes", std::int64_t{1048576}, "Largest accepted request body (413 above).",
              int_range(0, std::int64_t{1} << 30)},
             {"read_timeout_ms", std::int64_t{30000},
              "Time a client has to send a whole request once it started (slow clients are cut off).",
              int_range(100, 3600000)},
             {"idle_timeout_ms", std::int64_t{60000}, "Idle keep-alive connections are closed after this long.",
              int_range(100, 3600000)},
             {"shutdown_timeout_ms", std::int64_t{10000},
              "On SIGINT/SIGTERM, time in-flight requests get to finish before connections are closed.",
              int_range(0, 600000)},
             {"access_log", true, "Log one line per HTTP request (query parameters named like credentials, e.g. token, key, secret, signature, password, are shown as ********)."},
             {"tls_cert", std::string(""),
              "PEM certificate chain file. With tls_key set too, the port serves only HTTPS and WSS (TLS 1.2+).",
              file_or_empty()},
             {"tls_key", std::string(""), "PEM private key file for tls_cert.", file_or_empty()},
             {"trusted_proxies", std::vector<std::string>{},
              "Reverse proxies whose forwarding header names the client: addresses and CIDR blocks, IPv4 or IPv6, "
              "e.g. [\"127.0.0.1\", \"::1\"] for a proxy on this host, [\"10.0.0.0/8\"]. Only a request whose TCP peer is "
              "listed has its client address (login throttling, audit, sessions, the loopback-only setup) and scheme "
              "taken from that header; empty: forwarding headers are ignored and the client is the TCP peer.",
              valid_proxies()},
             {"forwarded_header", std::string("x-forwarded-for"),
              "The header the trusted proxies write, and the only one believed: x-forwarded-for (with "
              "X-Forwarded-Proto; nginx, HAProxy, most proxies) or forwarded (RFC 7239). The other header is passed "
              "through by the proxy as the client sent it, so it is ignored.",
              one_of({"x-forwarded-for", "forwarded"})},
             {"ws_max_queue", std::int64_t{1024},
              "WebSocket messages waiting to be sent to one client before that client is disconnected.",
              int_range(1, 1000000)},
             {"ws_max_message_bytes", std::int64_t{65536}, "Largest accepted WebSocket message from a client.",
              int_range(128, 16 << 20)},
             {"ws_idle_timeout_ms", std::int64_t{60000},
              "A WebSocket with no traffic (server pings included) for this long is closed.", int_range(1000, 3600000)},
             {"ws_recheck_ms", std::int64_t{5000},
              "How often an open WebSocket's credential is checked again: once the session or API key has ended "
              "(logout, expiry, revocation, password change, user disabled or deleted) the socket is closed (1008).",
              int_range(100, 3600000)},
             {"ws_max_control_frames_per_s", std::int64_t{20},
              "Control frames (pings, pongs) one WebSocket client may send per second, with bursts of twice as many; "
              "a client sending more is closed (1008, \"too many control frames\").",
              int_range(1, 100000)},
         }},
        {"database",
         "Where state lives: SQLite (embedded default) or PostgreSQL (production, several instances).",
         {
             {"url", std::string("sqlite:data/arclight.db"),
              "sqlite:<path> (relative to the working directory) or a libpq URI postgresql://user:pass@host:port/db.",
              valid_db_url()},
             {"pool_size", std::int64_t{8}, "Database sessions kept open.", int_range(1, 256)},
             {"sqlite_synchronous", std::string("full"),
              "SQLite durability: full (a committed change survives power loss) or normal (faster; the last "
              "transactions may be lost on power loss, never corrupted).",
              one_of({"full", "normal"})},
             {"busy_timeout_ms", std::int64_t{5000}, "SQLite: how long a writer waits for the lock.",
              int_range(0, 600000)},
             {"migrate_on_start", true, "Apply pending migrations when the server starts (else run `arclight migrate`)."},
         }},
        {"vault",
         "Secrets at rest (webhook secrets, ...), encrypted with XChaCha20-Poly1305 under one master key: 32 random bytes, "
         "base64. The environment variable ARCLIGHT_VAULT_KEY (the key itself) is used first; given with key_file too, "
         "both must hold the same key. Without either, a SQLite database uses arclight.vault.key beside its file (created "
         "with mode 0600 while no secret is stored); PostgreSQL has no default (instances share one key): create it with "
         "`arclight vault init --key-file PATH`.",
         {
             {"key_file", std::string(""),
              "File holding the vault's master key (base64 of 32 bytes; mode 0600). Written by `arclight vault init` and "
              "replaced by `arclight vault rotate-key`, which keeps the previous key as <file>.old."},
         }},
        {"log",
         "Logging to stderr.",
         {
             {"level", std::string("info"), "debug | info | warn | error | off", one_of({"debug", "info", "warn", "error", "off"})},
         }},
    };
    for (const auto& m : modules) {
        ConfigTable t{m.name, m.description, {}};
        t.keys.push_back({"enabled", true, fmt::format("Run the {} module.", m.name)});
        for (const auto& k : m.config) t.keys.push_back(k);
        schema.push_back(std::move(t));
    }
    return schema;
}

struct Application::Runtime {
    Config config;
    asio::io_context ioc;
    asio::executor_work_guard<asio::io_context::executor_type> work{ioc.get_executor()};
    std::unique_ptr<asio::thread_pool> blocking;
    std::unique_ptr<ComputePool> compute;
    std::vector<std::thread> io_threads;
    std::unique_ptr<Db> db;
    Vault vault;
    std::unique_ptr<NotifyRelay> relay;
    std::unique_ptr<EventBus> bus;
    std::unique_ptr<WsHub> ws;
    Router router;
    AccessControl access;
    std::unique_ptr<StaticFiles> ui;
    std::unique_ptr<HttpServer> server;
    ServiceRegistry services;
    PermissionCatalog permissions;
    std::vector<ModuleDescriptor> descriptors;
    struct Loaded {
        const ModuleDescriptor* descriptor;
        std::unique_ptr<ModuleContext> context;
        std::unique_ptr<Module> module;
        bool started = false;
    };
    std::vector<Loaded> loaded;  // start order
    std::unique_ptr<asio::signal_set> signals;
    std::size_t io_thread_count = 1;
    std::chrono::milliseconds shutdown_timeout{10000};

    explicit Runtime(const Config& c) : config(c) {}
};

Application::Application(const Config& config, std::vector<ModuleDescriptor> modules)
    : rt_(std::make_unique<Runtime>(config)) {
    info_.version = std::string(arclight_version());
    info_.instance_id = new_uuid();
    info_.started_at_ms = now_ms();
    auto server = config.section("server");
    auto dbc = config.section("database");
    log::Level lvl;
    if (log::parse_level(config.section("log").get_string("level"), lvl)) log::set_level(lvl);

    rt_->io_thread_count = threads_or_cores(server.get_int("threads"), 1, 1);
    rt_->blocking = std::make_unique<asio::thread_pool>(threads_or_cores(server.get_int("blocking_threads"), 2, 4));
    rt_->shutdown_timeout = std::chrono::milliseconds(server.get_int("shutdown_timeout_ms"));
    ComputePoolOptions cpo;
    cpo.threads = threads_or_cores(server.get_int("compute_threads"), 1, 1);
    cpo.max_queued = static_cast<std::size_t>(server.get_int("compute_queue"));
    cpo.nice = static_cast<int>(server.get_int("compute_nice"));
    cpo.retry_after_s = static_cast<int>(server.get_int("compute_retry_after_s"));
    rt_->compute = std::make_unique<ComputePool>(cpo);

    DbOptions dbo;
    dbo.url = dbc.get_string("url");
    dbo.pool_size = static_cast<std::size_t>(dbc.get_int("pool_size"));
    dbo.sqlite_synchronous = dbc.get_string("sqlite_synchronous");
    dbo.busy_timeout_ms = static_cast<int>(dbc.get_int("busy_timeout_ms"));
    rt_->db = std::make_unique<Db>(dbo, rt_->blocking->get_executor());
    rt_->relay = std::make_unique<NotifyRelay>(*rt_->db);
    rt_->bus = std::make_unique<EventBus>(rt_->ioc.get_executor());

    WsOptions wso;
    wso.max_queue = static_cast<std::size_t>(server.get_int("ws_max_queue"));
    wso.max_message_bytes = static_cast<std::size_t>(server.get_int("ws_max_message_bytes"));
    wso.idle_timeout = std::chrono::milliseconds(server.get_int("ws_idle_timeout_ms"));
    wso.recheck_interval = std::chrono::milliseconds(server.get_int("ws_recheck_ms"));
    wso.max_control_frames_per_s = static_cast<double>(server.get_int("ws_max_control_frames_per_s"));
    wso.control_frame_burst = 2 * wso.max_control_frames_per_s;
    rt_->ws = std::make_unique<WsHub>(*rt_->bus, wso);

    if (const auto& dir = server.get_string("ui_dir"); !dir.empty()) {
        rt_->ui = std::make_unique<StaticFiles>(std::filesystem::path(dir));
    } else {
        rt_->ui = std::make_unique<StaticFiles>(embedded_web());
    }
    ServerOptions so;
    so.host = server.get_string("host");
    so.port = static_cast<unsigned short>(server.get_int("port"));
    so.max_header_bytes = static_cast<std::size_t>(server.get_int("max_header_bytes"));
    so.max_header_fields = static_cast<std::size_t>(server.get_int("max_header_fields"));
    so.max_body_bytes = static_cast<std::size_t>(server.get_int("max_body_bytes"));
    so.read_timeout = std::chrono::milliseconds(server.get_int("read_timeout_ms"));
    so.idle_timeout = std::chrono::milliseconds(server.get_int("idle_timeout_ms"));
    so.access_log = server.get_bool("access_log");
    so.tls_cert = server.get_string("tls_cert");
    so.tls_key = server.get_string("tls_key");
    so.trusted_proxies = TrustedProxies(server.get_list("trusted_proxies"));
    so.forwarded_header = server.get_string("forwarded_header") == "forwarded" ? ForwardedHeader::forwarded
                                                                              : ForwardedHeader::x_forwarded_for;
    if (so.tls_cert.empty() != so.tls_key.empty()) {
        throw ConfigError({"server.tls_cert and server.tls_key must be set together (or both left empty)"});
    }
    info_.tls = !so.tls_cert.empty();
    rt_->server = std::make_unique<HttpServer>(rt_->ioc, rt_->router, *rt_->ws, rt_->ui.get(), rt_->access, so);

    rt_->services.provide<ModuleDirectory>(this);
    rt_->descriptors = std::move(modules);
    std::vector<const ModuleDescriptor*> enabled;
    for (const auto& d : rt_->descriptors) {
        if (config.section(d.name).get_bool("enabled")) enabled.push_back(&d);
    }
    for (const auto* d : enabled) {
        for (const auto& p : d->permissions) rt_->permissions.add(d->name, p);
    }
    for (const auto* d : order_modules(enabled)) {
        Runtime::Loaded l;
        l.descriptor = d;
        // Sections point into rt_->config, which lives as long as the modules (the parameter does not).
        l.context = std::make_unique<ModuleContext>(ModuleContext{rt_->config.section(d->name), *rt_->db, *rt_->bus, *rt_->ws,
                                                                  rt_->access, rt_->services, rt_->permissions, *rt_->relay,
                                                                  rt_->ioc.get_executor(),
                                                                  rt_->blocking->get_executor(), *rt_->compute, info_, rt_->vault});
        l.module = d->create(*l.context);
        rt_->loaded.push_back(std::move(l));
    }
}

Application::~Application() {
    shutdown();
}

EventBus& Application::bus() { return *rt_->bus; }
Db& Application::db() { return *rt_->db; }
Router& Application::router() { return rt_->router; }
WsHub& Application::ws() { return *rt_->ws; }
ServiceRegistry& Application::services() { return rt_->services; }
Vault& Application::vault() { return rt_->vault; }
const PermissionCatalog& Application::permissions() const { return rt_->permissions; }

void Application::check_permissions() const {
    const auto& catalog = rt_->permissions;
    for (const auto& r : rt_->router.routes()) {
        if (r.permission == kPublic || catalog.known(r.permission)) continue;
        throw std::logic_error(fmt::format("route {} {} ({}) needs permission '{}', which no enabled module declares",
                                           r.method, r.pattern, r.tag, r.permission));
    }
    for (const auto& [prefix, permission] : rt_->ws->topic_permissions()) {
        if (catalog.known(permission)) continue;
        throw std::logic_error(fmt::format("WebSocket topics '{}.*' need permission '{}', which no enabled module declares",
                                           prefix, permission));
    }
}

std::vector<ModuleStatus> Application::modules() const {
    std::vector<ModuleStatus> out;
    for (const auto& l : rt_->loaded) {
        ModuleStatus st{l.descriptor->name, l.descriptor->description, true, Health::ok()};
        try {
            st.health = l.started ? l.module->health() : Health::failed("not started");
        } catch (const std::exception& e) {
            st.health = Health::failed(e.what());
        }
        out.push_back(std::move(st));
    }
    for (const auto& d : rt_->descriptors) {
        bool on = std::any_of(rt_->loaded.begin(), rt_->loaded.end(), [&](const auto& l) { return l.descriptor == &d; });
        if (!on) out.push_back({d.name, d.description, false, Health::ok()});
    }
    return out;
}

MigrationReport Application::migrate() {
    std::vector<std::string> order;
    // Core's own tables (the vault's) live in schema/system/: applied even with that module disabled.
    order.push_back("system");
    for (const auto& l : rt_->loaded)
        if (l.descriptor->name != "system") order.push_back(l.descriptor->name);
    // SQLite files created before incremental auto-vacuum are switched once (docs/configuration.md).
    rt_->db->ensure_incremental_vacuum();
    return apply_migrations(*rt_->db, collect_migrations(embedded_schema()), order);
}

void Application::open_vault() {
    VaultSettings vs;
    vs.key_file = rt_->config.section("vault").get_string("key_file");
    if (const char* env = std::getenv("ARCLIGHT_VAULT_KEY")) vs.env_key = std::string(env);
    vs.database_url = rt_->db->url();
    rt_->vault.open(*rt_->db, vs);
}

void Application::register_core_routes() {
    auto& r = rt_->router;
    Route healthz{"GET", "/healthz", std::string(kPublic), "Liveness: the process is up.", {}, false, "core"};
    healthz.sync_handler = [](HttpRequest&) {
        HttpResponse res;
        res.body = R"({"status":"ok"})";
        return res;
    };
    r.add(std::move(healthz));
    r.add({"GET", "/readyz", std::string(kPublic), "Readiness: the database is reachable and no module has failed.",
           [this](HttpRequest&) -> asio::awaitable<HttpResponse> {
               bool db_ok = co_await rt_->db->ping_async();
               json::array mods;
               bool ready = db_ok;
               for (const auto& m : modules()) {
                   if (!m.enabled) continue;
                   if (m.health.status == Health::Status::failed) ready = false;
                   mods.push_back({{"name", m.name}, {"status", to_string(m.health.status)}, {"reason", m.health.reason}});
               }
               json::object body{{"status", ready ? "ok" : "failed"},
                                 {"database", {{"backend", rt_->db->backend_name()}, {"ok", db_ok}}},
                                 {"modules", std::move(mods)}};
               co_return HttpResponse::json(body, ready ? 200 : 503);
           },
           false, "core"});
    Route openapi{"GET", "/api/v1/openapi.json", std::string(kPublic), "This API's OpenAPI 3.1 document.", {}, false, "core"};
    openapi.sync_handler = [this](HttpRequest&) { return HttpResponse::json(rt_->router.openapi(info_.version)); };
    r.add(std::move(openapi));
}

unsigned short Application::start() {
    if (started_) return port_;
    started_ = true;
    if (rt_->config.section("database").get_bool("migrate_on_start")) {
        auto rep = migrate();
        if (!rep.applied.empty()) log::info("migrate", "applied {} migrations", rep.applied.size());
    }
    open_vault();
    register_core_routes();
    for (auto& l : rt_->loaded) l.module->register_routes(rt_->router);
    check_permissions();
    for (auto& l : rt_->loaded) l.module->subscribe(*rt_->bus);
    port_ = rt_->server->listen();
    for (std::size_t i = 0; i < rt_->io_thread_count; ++i) {
        rt_->io_threads.emplace_back([this] { rt_->ioc.run(); });
    }
    rt_->relay->start();
    for (auto& l : rt_->loaded) {
        l.module->start();
        l.started = true;
        log::debug("app", "module {} started", l.descriptor->name);
    }
    if (!rt_->access.installed()) {
        log::warn("app", "no access control is installed (auth disabled): every route is open to anyone who can connect");
    }
    rt_->server->start();
    log::info("app", "arclight {} listening on {}://{}:{} (database: {}, {} I/O threads)", info_.version,
              info_.tls ? "https" : "http",
              rt_->config.section("server").get_string("host"), port_, rt_->db->backend_name(), rt_->io_thread_count);
    return port_;
}

void Application::request_stop() {
    {
        std::lock_guard lk(stop_mu_);
        stop_requested_ = true;
    }
    stop_cv_.notify_all();
}

void Application::wait() {
    std::unique_lock lk(stop_mu_);
    stop_cv_.wait(lk, [this] { return stop_requested_; });
}

void Application::shutdown() {
    if (shut_down_) return;
    shut_down_ = true;
    if (rt_->signals) {
        boost::system::error_code ec;
        rt_->signals->cancel(ec);
    }
    auto deadline = std::chrono::steady_clock::now() + rt_->shutdown_timeout;
    if (started_) {
        log::info("app", "shutting down: draining connections (deadline {} ms)", rt_->shutdown_timeout.count());
        rt_->server->shutdown(deadline);
        // Scripts running now finish (within their limits); queued work is dropped: what it
        // belonged to is durable and resumes at the next start, as after any stop.
        rt_->compute->stop();
        auto module_deadline = std::max(deadline, std::chrono::steady_clock::now() + std::chrono::seconds(2));
        for (auto it = rt_->loaded.rbegin(); it != rt_->loaded.rend(); ++it) {
            if (!it->started) continue;
            try {
                it->module->stop(module_deadline);
            } catch (const std::exception& e) {
                log::error("app", "module {} failed to stop cleanly: {}", it->descriptor->name, e.what());
            }
            it->started = false;
        }
        rt_->relay->stop(module_deadline);
    }
    rt_->work.reset();
    rt_->ioc.stop();
    for (auto& t : rt_->io_threads) t.join();
    rt_->io_threads.clear();
    rt_->blocking->join();
    rt_->loaded.clear();
    log::info("app", "stopped");
    log::flush();
}

int Application::run(bool handle_signals) {
    if (handle_signals) {
        rt_->signals = std::make_unique<asio::signal_set>(rt_->ioc, SIGINT, SIGTERM);
        rt_->signals->async_wait([this](const boost::system::error_code& ec, int sig) {
            if (ec) return;
            log::info("app", "received signal {}", sig);
            request_stop();
        });
    }
    start();
    wait();
    shutdown();
    return 0;
}

}  // namespace arclight
