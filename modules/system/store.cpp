#include "modules/system/store.hpp"

#include <soci/soci.h>

namespace arclight::system {
namespace {

constexpr const char* kInsert =
    "INSERT INTO system_instances (id, hostname, version, started_at, last_seen_at) VALUES (:id, :h, :v, :s, :l)";
constexpr const char* kForget = "DELETE FROM system_instances WHERE last_seen_at < :t";
constexpr const char* kTouch = "UPDATE system_instances SET last_seen_at = :t WHERE id = :id";
constexpr const char* kListLive =
    "SELECT id, hostname, version, started_at, last_seen_at FROM system_instances WHERE last_seen_at >= :t "
    "ORDER BY started_at";
constexpr const char* kRemove = "DELETE FROM system_instances WHERE id = :id";

}  // namespace

void InstanceStore::register_self(const Instance& self, std::int64_t forget_before_ms) {
    db_.with_session([&](soci::session& s) {
        soci::transaction tx(s);
        long long started = self.started_at_ms, seen = self.last_seen_at_ms, forget = forget_before_ms;
        s << kForget, soci::use(forget);
        s << kInsert, soci::use(self.id), soci::use(self.hostname), soci::use(self.version), soci::use(started),
            soci::use(seen);
        tx.commit();
    });
}

boost::asio::awaitable<void> InstanceStore::touch(const std::string& id, std::int64_t now_ms) {
    auto query = [id, now_ms](soci::session& s) {
        long long t = now_ms;
        s << kTouch, soci::use(t), soci::use(id);
    };
    co_await db_.run(std::move(query));
}

boost::asio::awaitable<std::vector<Instance>> InstanceStore::list_live(std::int64_t seen_since_ms) {
    auto query = [seen_since_ms](soci::session& s) {
        std::vector<Instance> out;
        long long since = seen_since_ms;
        Instance row;
        long long started = 0, seen = 0;
        soci::statement st = (s.prepare << kListLive, soci::use(since), soci::into(row.id), soci::into(row.hostname),
                              soci::into(row.version), soci::into(started), soci::into(seen));
        st.execute();
        while (st.fetch()) {
            row.started_at_ms = started;
            row.last_seen_at_ms = seen;
            out.push_back(row);
        }
        return out;
    };
    co_return co_await db_.run(std::move(query));
}

void InstanceStore::remove(const std::string& id) {
    db_.with_session([&](soci::session& s) { s << kRemove, soci::use(id); });
}

}  // namespace arclight::system
