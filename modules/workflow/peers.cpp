#include "modules/workflow/peers.hpp"

#include "core/util/suppress_coroutine_frame_warning.hpp"

#include "core/db/db.hpp"
#include "core/log/log.hpp"
#include "modules/workflow/run_store.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include <libpq-fe.h>
#include <poll.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace arclight::workflow {
namespace asio = boost::asio;

namespace {

class NoPeers final : public PeerLink {
public:
    void start(Handler) override {}
    void stop() override {}
    void send(std::string) override {}
};

// One LISTEN connection (raw libpq, reconnecting) on its own thread.
class PgPeers final : public PeerLink {
public:
    PgPeers(Db& db, asio::any_io_executor io) : db_(db), io_(std::move(io)) {}
    ~PgPeers() override { stop(); }

    void start(Handler handler) override {
        auto conninfo = parse_db_url(db_.url()).target;
        thread_ = std::thread([this, conninfo, handler = std::move(handler)] { listen(conninfo, handler); });
    }

    void stop() override {
        stopping_ = true;
        if (thread_.joinable()) thread_.join();
    }

    void send(std::string payload) override {
        Db* db = &db_;
        auto body = [db, payload = std::move(payload)]() -> asio::awaitable<void> {
            auto q = [payload](soci::session& s) { RunStore::notify(s, payload); };
            try {
                co_await db->run(std::move(q));
            } catch (const std::exception& e) {
                log::warn("workflow", "NOTIFY failed: {}", e.what());
            }
        };
        asio::co_spawn(io_, std::move(body), asio::detached);
    }

private:
    void listen(const std::string& conninfo, const Handler& handler) {
        PGconn* conn = nullptr;
        while (!stopping_) {
            if (!conn || PQstatus(conn) != CONNECTION_OK) {
                if (conn) PQfinish(conn);
                conn = PQconnectdb(conninfo.c_str());
                if (PQstatus(conn) != CONNECTION_OK) {
                    std::this_thread::sleep_for(std::chrono::milliseconds(500));
                    continue;
                }
                PGresult* res = PQexec(conn, "LISTEN arclight_workflow");
                PQclear(res);
            }
            pollfd p{PQsocket(conn), POLLIN, 0};
            if (::poll(&p, 1, 200) <= 0) continue;
            if (!PQconsumeInput(conn)) continue;
            while (PGnotify* n = PQnotifies(conn)) {
                std::string payload = n->extra ? n->extra : "";
                PQfreemem(n);
                handler(payload);
            }
        }
        if (conn) PQfinish(conn);
    }

    Db& db_;
    asio::any_io_executor io_;
    std::atomic<bool> stopping_{false};
    std::thread thread_;
};

}  // namespace

std::unique_ptr<PeerLink> make_peer_link(Db& db, asio::any_io_executor io) {
    if (db.backend() == DbBackend::postgres) return std::make_unique<PgPeers>(db, std::move(io));
    return std::make_unique<NoPeers>();
}

}  // namespace arclight::workflow
