// The bus subscriptions and durable lookups of waiting wait_for_event tasks (event_waits.hpp).
#include "modules/workflow/tasks/event_waits.hpp"

#include "core/db/db.hpp"
#include "core/json/compare.hpp"
#include "core/log/log.hpp"
#include "core/time/time.hpp"
#include "modules/workflow/definition.hpp"
#include "modules/workflow/engine_impl.hpp"
#include "modules/workflow/event_store.hpp"
#include "modules/workflow/run_store.hpp"

#include "core/util/suppress_coroutine_frame_warning.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/json.hpp>

#include <limits>
#include <set>
#include <tuple>
#include <vector>

namespace arclight::workflow {
namespace asio = boost::asio;
namespace json = boost::json;

namespace {
// An event decides a wait of a run of its own project; one of no project (published by a module,
// not emitted by a run) decides a wait of any.
bool same_project(const std::string& event_project, const std::string& run_project) {
    return event_project.empty() || event_project == run_project;
}
}  // namespace

namespace {

constexpr std::size_t kCatchUpPage = 500;
constexpr std::size_t kFeedPage = 1000;
constexpr int kFeedPagesPerSweep = 20;
constexpr std::size_t kPurgeBatch = 1000;
constexpr int kPurgeBatchesPerRound = 10;
constexpr std::int64_t kPurgeEveryMs = 60000;

std::optional<json::object> parse_data(const std::string& text) {
    boost::system::error_code ec;
    auto v = json::parse(text, ec);
    if (ec || !v.is_object()) return std::nullopt;
    return std::move(v.as_object());
}

}  // namespace

std::optional<EventMatcher> EventMatcher::from_input(const json::value& input) {
    if (!input.is_object()) return std::nullopt;
    const auto& cfg = input.as_object();
    auto* topic = cfg.if_contains("topic");
    if (!topic || !topic->is_string() || !valid_topic_pattern(topic->as_string())) return std::nullopt;
    EventMatcher m;
    m.pattern = std::string(topic->as_string());
    if (auto* f = cfg.if_contains("filter"); f && f->is_string()) {
        try {
            m.filter = std::make_shared<const expr::Expr>(parse_condition_text(f->as_string()));
        } catch (const std::exception&) {
            return std::nullopt;
        }
    }
    if (auto* mt = cfg.if_contains("match"); mt && mt->is_object()) m.match = mt->as_object();
    return m;
}

std::optional<json::object> EventMatcher::accept(const std::string& topic, const std::string& id, std::int64_t time_ms,
                                                 const json::object& data) const {
    if (!topic_matches(pattern, topic)) return std::nullopt;
    for (const auto& [path, expected] : match) {
        const json::value* v = nullptr;
        json::value data_v = data;
        v = &data_v;
        std::string_view rest = path;
        while (v && !rest.empty()) {
            auto dot = rest.find('.');
            auto part = rest.substr(0, dot);
            rest = dot == std::string_view::npos ? std::string_view{} : rest.substr(dot + 1);
            v = v->is_object() ? v->as_object().if_contains(part) : nullptr;
        }
        if (!v || !json_equal(*v, expected)) return std::nullopt;
    }
    json::object event{{"topic", topic}, {"id", id}, {"time", format_rfc3339(time_ms)}, {"data", data}};
    if (filter) {
        json::object root{{"event", event}};
        try {
            if (!filter->truthy(expr::ObjectScope(root))) return std::nullopt;
        } catch (const std::exception&) {
            return std::nullopt;
        }
    }
    return event;
}

void deliver_event(Engine::Impl& e, const std::string& run_id, const std::string& task_id, json::object event,
                   bool recorded) {
    auto self = e.shared_from_this();
    auto body = [self, run_id, task_id, event = std::move(event), recorded]() -> asio::awaitable<void> {
        try {
            std::string type = "wait_for_event";
            json::value output = event;
            std::string no_error;
            // A bus event cannot be had again: it takes a run being released back into memory.
            // A recorded one is looked for again once the run is in the database.
            bool take_back = !recorded;
            int r = co_await self->decide(run_id, task_id, type, true, output, no_error, take_back);
            if (r != 2) self->waits.remove(run_id, task_id);
            else if (recorded) self->waits.look_again(run_id, task_id);
        } catch (const std::exception& ex) {
            log::warn("workflow", "run {}: event for task {} not applied: {}", run_id, task_id, ex.what());
        }
    };
    asio::co_spawn(self->io, std::move(body), asio::detached);
}

void EventWaits::add(Engine::Impl& e, const std::string& run_id, const std::string& task_id, const json::value& input,
                     std::int64_t since_ms, std::string project) {
    auto key = run_id + "/" + task_id;
    {
        std::lock_guard lk(m_);
        if (subs_.count(key)) return;
    }
    auto parsed = EventMatcher::from_input(input);
    if (!parsed) return;
    auto matcher = std::make_shared<const EventMatcher>(std::move(*parsed));
    std::weak_ptr<Engine::Impl> weak = e.shared_from_this();
    auto handler = [weak, run_id, task_id, matcher, project](const EventPtr& ev) {
        auto self = weak.lock();
        if (!self || self->stopping) return;
        if (!same_project(ev->project, project)) return;
        if (auto event = matcher->accept(ev->topic, ev->id, ev->time_ms, ev->data))
            deliver_event(*self, run_id, task_id, std::move(*event), false);
    };
    auto sub = std::make_unique<Subscription>(e.bus.subscribe(matcher->pattern, std::move(handler)));
    {
        std::lock_guard lk(m_);
        if (subs_.count(key)) return;
        Watch w;
        w.run_id = run_id;
        w.task_id = task_id;
        w.matcher = matcher;
        w.since_ms = since_ms;
        w.project = project;
        w.gen = ++gen_;
        w.sub = std::move(sub);
        subs_[key] = std::move(w);
    }
    catch_up(e, run_id, task_id, matcher, since_ms, project);
}

void EventWaits::remove(const std::string& run_id, const std::string& task_id) {
    Watch old;
    std::lock_guard lk(m_);
    auto it = subs_.find(run_id + "/" + task_id);
    if (it == subs_.end()) return;
    old = std::move(it->second);
    subs_.erase(it);
}

void EventWaits::clear() {
    std::map<std::string, Watch> old;
    std::lock_guard lk(m_);
    old.swap(subs_);
    cursor_.reset();
}

void EventWaits::look_again(const std::string& run_id, const std::string& task_id) {
    std::lock_guard lk(m_);
    auto it = subs_.find(run_id + "/" + task_id);
    if (it != subs_.end() && it->second.catch_up != CatchUp::running) it->second.catch_up = CatchUp::failed;
}

// Looks through the events recorded since the run was created for the first one the wait
// accepts. A failed lookup is tried again by the next sweep.
void EventWaits::catch_up(Engine::Impl& e, const std::string& run_id, const std::string& task_id,
                          std::shared_ptr<const EventMatcher> matcher, std::int64_t since_ms, std::string project) {
    auto self = e.shared_from_this();
    auto body = [self, run_id, task_id, matcher, since_ms, project]() -> asio::awaitable<void> {
        auto& waits = self->waits;
        auto key = run_id + "/" + task_id;
        auto settle = [&waits, &key, &matcher](CatchUp state) {
            std::lock_guard lk(waits.m_);
            auto it = waits.subs_.find(key);
            if (it != waits.subs_.end() && it->second.matcher == matcher) it->second.catch_up = state;
        };
        // An exact topic is looked up by its index; a pattern reads every recent event.
        std::string topic = matcher->pattern.find('*') == std::string::npos ? matcher->pattern : std::string();
        std::int64_t after_pos = std::numeric_limits<std::int64_t>::min();
        std::string after_id;
        try {
            while (!self->stopping) {
                auto q = [topic, since_ms, after_pos, after_id](soci::session& s) {
                    return EventStore::since(s, topic, since_ms, after_pos, after_id, kCatchUpPage);
                };
                auto page = co_await self->db.run(std::move(q));
                for (const auto& ev : page) {
                    if (!same_project(ev.project, project)) continue;
                    auto data = parse_data(ev.data);
                    if (!data) continue;
                    if (auto event = matcher->accept(ev.topic, ev.id, ev.time_ms, *data)) {
                        settle(CatchUp::done);
                        deliver_event(*self, run_id, task_id, std::move(*event), true);
                        co_return;
                    }
                }
                if (page.size() < kCatchUpPage) break;
                after_pos = page.back().pos;
                after_id = page.back().id;
            }
            settle(CatchUp::done);
        } catch (const std::exception& ex) {
            log::warn("workflow", "run {}: looking up recorded events for task {} failed (tried again): {}", run_id,
                      task_id, ex.what());
            settle(CatchUp::failed);
        }
    };
    asio::co_spawn(e.io, std::move(body), asio::detached);
}

asio::awaitable<void> EventWaits::refresh(Engine::Impl& e) {
    bool sqlite = e.db.backend() == DbBackend::sqlite;
    if (!cursor_) {
        auto q = [sqlite](soci::session& s) { return EventStore::feed_start(s, sqlite); };
        cursor_ = co_await e.db.run(std::move(q));
        // Waits added before the feed had a position look again: an event recorded between their
        // first look and that position is behind the feed.
        std::lock_guard lk(m_);
        for (auto& [key, w] : subs_) w.catch_up = CatchUp::failed;
    }
    std::uint64_t gen_before = 0;
    {
        std::lock_guard lk(m_);
        gen_before = gen_;
    }
    auto q = [](soci::session& s) { return RunStore::event_waits(s); };
    auto rows = co_await e.db.run(std::move(q));
    std::set<std::string> live;
    for (const auto& w : rows) {
        live.insert(w.run_id + "/" + w.task_id);
        boost::system::error_code ec;
        auto v = json::parse(w.input, ec);
        if (!ec) add(e, w.run_id, w.task_id, v, w.created_at, e.project_of(w.workflow_id));
    }
    std::vector<Watch> dropped;
    std::vector<std::tuple<std::string, std::string, std::shared_ptr<const EventMatcher>, std::int64_t, std::string>> again;
    {
        std::lock_guard lk(m_);
        for (auto it = subs_.begin(); it != subs_.end();) {
            // Waits added while the database was read are not in what it returned.
            if (!live.count(it->first) && it->second.gen <= gen_before) {
                dropped.push_back(std::move(it->second));
                it = subs_.erase(it);
                continue;
            }
            auto& w = it->second;
            if (w.catch_up == CatchUp::failed) {
                w.catch_up = CatchUp::running;
                again.emplace_back(w.run_id, w.task_id, w.matcher, w.since_ms, w.project);
            }
            ++it;
        }
    }
    for (auto& [run_id, task_id, matcher, since, project] : again) catch_up(e, run_id, task_id, matcher, since, project);
    co_await read_feed(e);
    co_await purge(e);
}

// The events recorded since the last sweep, offered to every wait this instance holds.
asio::awaitable<void> EventWaits::read_feed(Engine::Impl& e) {
    bool sqlite = e.db.backend() == DbBackend::sqlite;
    for (int page_no = 0; page_no < kFeedPagesPerSweep && !e.stopping; ++page_no) {
        std::int64_t from = *cursor_;
        auto q = [sqlite, from](soci::session& s) {
            std::int64_t next = from;
            bool more = false;
            auto events = EventStore::feed(s, sqlite, from, kFeedPage, next, more);
            return std::make_tuple(std::move(events), next, more);
        };
        auto page = co_await e.db.run(std::move(q));
        const auto& events = std::get<0>(page);
        if (!events.empty()) {
            std::vector<std::tuple<std::string, std::string, std::shared_ptr<const EventMatcher>, std::int64_t, std::string>> watches;
            {
                std::lock_guard lk(m_);
                for (const auto& [key, w] : subs_) watches.emplace_back(w.run_id, w.task_id, w.matcher, w.since_ms, w.project);
            }
            for (const auto& ev : events) {
                if (watches.empty()) break;
                auto data = parse_data(ev.data);
                if (!data) continue;
                for (auto it = watches.begin(); it != watches.end();) {
                    const auto& [run_id, task_id, matcher, since, project] = *it;
                    std::optional<json::object> event;
                    if (ev.time_ms >= since && same_project(ev.project, project))
                        event = matcher->accept(ev.topic, ev.id, ev.time_ms, *data);
                    if (!event) {
                        ++it;
                        continue;
                    }
                    deliver_event(e, run_id, task_id, std::move(*event), true);
                    it = watches.erase(it);  // one event decides a wait
                }
            }
        }
        cursor_ = std::get<1>(page);
        if (!std::get<2>(page)) break;
    }
}

// Events older than the retention go, a bounded number per round (every instance does it; a
// row deleted twice is harmless).
asio::awaitable<void> EventWaits::purge(Engine::Impl& e) {
    if (now_ms() < next_purge_) co_return;
    next_purge_ = now_ms() + kPurgeEveryMs;
    std::int64_t before = now_ms() - e.opt.event_retention_ms;
    for (int i = 0; i < kPurgeBatchesPerRound && !e.stopping; ++i) {
        auto q = [before](soci::session& s) { return EventStore::purge(s, before, kPurgeBatch); };
        auto n = co_await e.db.run(std::move(q));
        if (n < kPurgeBatch) break;
    }
}

}  // namespace arclight::workflow
