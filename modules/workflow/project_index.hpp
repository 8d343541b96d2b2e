#pragma once
// The project of each workflow, in memory, for what the engine publishes: /ws delivers a run's
// events only to members of its project (core/ws/ws_hub.hpp). Loaded at start, kept by the
// service as workflows are created, moved and deleted (here or, through NOTIFY, elsewhere).

#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace arclight::workflow {

class ProjectIndex {
public:
    /// The workflow's project; "" when unknown (its events then reach instance admins only).
    std::string of(const std::string& workflow_id) const {
        std::lock_guard lk(m_);
        auto it = map_.find(workflow_id);
        return it == map_.end() ? std::string() : it->second;
    }
    void set(const std::string& workflow_id, const std::string& project) {
        std::lock_guard lk(m_);
        map_[workflow_id] = project;
    }
    void replace_all(std::vector<std::pair<std::string, std::string>> all) {
        std::unordered_map<std::string, std::string> fresh(all.begin(), all.end());
        std::lock_guard lk(m_);
        map_.swap(fresh);
    }

private:
    mutable std::mutex m_;
    std::unordered_map<std::string, std::string> map_;
};

}  // namespace arclight::workflow
