#include "modules/workflow/current_versions.hpp"

#include "core/util/suppress_coroutine_frame_warning.hpp"

#include "core/db/db.hpp"
#include "core/errors/error.hpp"
#include "core/log/log.hpp"
#include "modules/workflow/store.hpp"

#include <boost/json.hpp>

namespace arclight::workflow {
namespace json = boost::json;

std::shared_ptr<const WorkflowVersion> CurrentVersions::find(const std::string& id) {
    std::lock_guard lk(m_);
    auto it = map_.find(id);
    if (it == map_.end()) return nullptr;
    if (it->second.until <= Clock::now()) {
        map_.erase(it);
        return nullptr;
    }
    return it->second.wf;
}

std::uint64_t CurrentVersions::generation() {
    std::lock_guard lk(m_);
    return generation_;
}

void CurrentVersions::put(const std::string& id, std::shared_ptr<const WorkflowVersion> wf, std::uint64_t loaded_at_generation) {
    std::lock_guard lk(m_);
    if (loaded_at_generation != generation_) return;
    if (map_.size() >= 10'000) map_.clear();
    map_[id] = {std::move(wf), Clock::now() + ttl_};
}

void CurrentVersions::forget(const std::string& id) {
    std::lock_guard lk(m_);
    map_.erase(id);
    ++generation_;
}

Versions::Versions(Db& db, Store& store, const TaskTypes& types, std::chrono::milliseconds current_ttl)
    : db_(db), store_(store), types_(types), current_(current_ttl) {}

std::shared_ptr<const WorkflowVersion> Versions::compile(const std::string& id, int version, const std::string& definition) {
    {
        std::lock_guard lk(m_);
        auto it = compiled_.find({id, version});
        if (it != compiled_.end()) return it->second;
    }
    boost::system::error_code ec;
    auto doc = json::parse(definition, ec);
    if (ec) return nullptr;
    std::vector<FieldError> errors;
    auto def = parse_definition(doc, types_, errors, true);
    if (!def) {
        log::warn("workflow", "workflow {} version {} no longer validates: {}", id, version,
                  errors.empty() ? "" : errors.front().pointer + " " + errors.front().message);
        return nullptr;
    }
    auto wf = std::make_shared<WorkflowVersion>();
    wf->id = id;
    wf->version = version;
    wf->def = std::move(def);
    std::lock_guard lk(m_);
    if (compiled_.size() > 2000) compiled_.clear();
    compiled_[{id, version}] = wf;
    return wf;
}

std::shared_ptr<const WorkflowVersion> Versions::load(soci::session& s, const std::string& id, int version) {
    {
        std::lock_guard lk(m_);
        auto it = compiled_.find({id, version});
        if (it != compiled_.end()) return it->second;
    }
    auto def = store_.version_definition(s, id, version);
    if (!def) return nullptr;
    return compile(id, version, *def);
}

std::shared_ptr<const WorkflowVersion> Versions::load_current(soci::session& s, const std::string& id) {
    auto rec = store_.get_workflow(s, id);
    return rec ? compile(rec->id, rec->version, rec->definition) : nullptr;
}

boost::asio::awaitable<std::shared_ptr<const WorkflowVersion>> Versions::current(const std::string& id) {
    if (auto wf = current_.find(id)) co_return wf;
    auto generation = current_.generation();
    auto q = [this, id](soci::session& s) -> std::pair<bool, std::shared_ptr<const WorkflowVersion>> {
        auto rec = store_.get_workflow(s, id);
        if (!rec) return {false, nullptr};
        return {true, compile(rec->id, rec->version, rec->definition)};
    };
    auto [found, wf] = co_await db_.run(std::move(q));
    if (!found) throw Error(ErrorCode::not_found, "no workflow " + id);
    if (!wf) throw Error(ErrorCode::validation_failed, "the workflow's definition does not validate any more");
    current_.put(id, wf, generation);
    co_return wf;
}

Engine::VersionLoader Versions::loader() {
    return [this](soci::session& s, const std::string& id, int v) { return load(s, id, v); };
}

Engine::CurrentLoader Versions::current_loader() {
    return [this](soci::session& s, const std::string& id) { return load_current(s, id); };
}

Triggers::Parser Versions::parser() {
    return [this](const std::string& id, int v, const std::string& d) { return compile(id, v, d); };
}

}  // namespace arclight::workflow
