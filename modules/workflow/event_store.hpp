#pragma once
// Every SQL statement on workflow_events: the durable record of the events workflows emit (the
// `emit` task), which waiting wait_for_event tasks read besides the bus (tasks/event_waits.cpp).
// Blocking; called through Db::run.
#include <cstdint>
#include <string>
#include <vector>

namespace soci {
class session;
}

namespace arclight::workflow {

struct StoredEvent {
    std::string id, topic, data;  ///< data: the event's JSON object as text
    std::int64_t time_ms = 0;
    std::int64_t pos = 0;         ///< position in the feed (schema/workflow/0006_events.sql)
    std::string project;          ///< the emitting run's project ("" = none)
};

class EventStore {
public:
    /// Records one event in its own statement (one event per transaction: positions stay unique).
    static void record(soci::session& s, bool sqlite, const StoredEvent& ev, const std::string& run_id,
                       const std::string& task_id);
    /// Where a feed reader starts: every event committed from now on is at or after it.
    static std::int64_t feed_start(soci::session& s, bool sqlite);
    /// Events at or after position `from` that no later commit can land behind, in position order,
    /// at most about `limit`; `next` is where the next read starts, `more` whether the page was full.
    static std::vector<StoredEvent> feed(soci::session& s, bool sqlite, std::int64_t from, std::size_t limit,
                                         std::int64_t& next, bool& more);
    /// Events recorded at or after `since_ms` whose topic is `topic` (any topic when empty), after
    /// (`after_pos`, `after_id`) in position order, at most `limit`.
    static std::vector<StoredEvent> since(soci::session& s, const std::string& topic, std::int64_t since_ms,
                                          std::int64_t after_pos, const std::string& after_id, std::size_t limit);
    /// Deletes at most `limit` events older than `before_ms`; how many it deleted.
    static std::size_t purge(soci::session& s, std::int64_t before_ms, std::size_t limit);
};

}  // namespace arclight::workflow
