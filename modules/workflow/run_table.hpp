#pragma once
// The runs this instance holds in memory, by id. Thread-safe. Private to the workflow module.
#include "modules/workflow/run.hpp"

#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace arclight::workflow {

class RunTable {
public:
    void add(const RunPtr& r) {
        std::lock_guard lk(m_);
        runs_[r->id] = r;
    }
    RunPtr find(const std::string& id) const {
        std::lock_guard lk(m_);
        auto it = runs_.find(id);
        return it == runs_.end() ? nullptr : it->second;
    }
    /// Removes `r` (not another run object of the same id: one claimed again meanwhile).
    void erase(const Run& r) {
        std::lock_guard lk(m_);
        auto it = runs_.find(r.id);
        if (it != runs_.end() && it->second.get() == &r) runs_.erase(it);
    }
    std::size_t size() const {
        std::lock_guard lk(m_);
        return runs_.size();
    }
    /// The ids of the runs `pred` selects.
    template <class Pred>
    std::vector<std::string> ids_where(Pred pred) const {
        std::vector<std::string> out;
        std::lock_guard lk(m_);
        for (const auto& [id, r] : runs_)
            if (pred(*r)) out.push_back(id);
        return out;
    }
    /// Empties the table and returns what it held (the engine stopping).
    std::vector<RunPtr> take_all() {
        std::vector<RunPtr> out;
        std::lock_guard lk(m_);
        for (auto& [id, r] : runs_) out.push_back(std::move(r));
        runs_.clear();
        return out;
    }

private:
    mutable std::mutex m_;
    std::unordered_map<std::string, RunPtr> runs_;
};

}  // namespace arclight::workflow
