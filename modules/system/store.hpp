#pragma once
// InstanceStore: the system_instances table (this module's only table).

#include "core/db/db.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace arclight::system {

struct Instance {
    std::string id;
    std::string hostname;
    std::string version;
    std::int64_t started_at_ms = 0;
    std::int64_t last_seen_at_ms = 0;
};

class InstanceStore {
public:
    explicit InstanceStore(Db& db) : db_(db) {}
    /// Records this instance (blocking; called at start) and forgets instances unseen since `forget_before_ms`.
    void register_self(const Instance& self, std::int64_t forget_before_ms);
    boost::asio::awaitable<void> touch(const std::string& id, std::int64_t now_ms);
    boost::asio::awaitable<std::vector<Instance>> list_live(std::int64_t seen_since_ms);
    void remove(const std::string& id);

private:
    Db& db_;
};

}  // namespace arclight::system
