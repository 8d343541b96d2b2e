#include "core/app/module.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>

namespace arclight {

std::string_view to_string(Health::Status s) {
    switch (s) {
        case Health::Status::ok: return "ok";
        case Health::Status::degraded: return "degraded";
        case Health::Status::failed: return "failed";
    }
    return "failed";
}

std::vector<const ModuleDescriptor*> order_modules(const std::vector<const ModuleDescriptor*>& enabled) {
    std::map<std::string, const ModuleDescriptor*> by_name;
    for (auto* d : enabled) by_name[d->name] = d;
    for (auto* d : enabled) {
        for (const auto& dep : d->dependencies) {
            if (!by_name.count(dep)) {
                throw std::runtime_error(
                    fmt::format("module \"{}\" depends on module \"{}\", which is not enabled", d->name, dep));
            }
        }
    }
    std::vector<const ModuleDescriptor*> out;
    std::map<std::string, int> state;  // 0 new, 1 visiting, 2 done
    std::vector<std::string> path;
    std::function<void(const ModuleDescriptor*)> visit = [&](const ModuleDescriptor* d) {
        auto& st = state[d->name];
        if (st == 2) return;
        if (st == 1) {
            auto it = std::find(path.begin(), path.end(), d->name);
            std::string cycle;
            for (; it != path.end(); ++it) cycle += *it + " -> ";
            throw std::runtime_error(fmt::format("module dependency cycle: {}{}", cycle, d->name));
        }
        st = 1;
        path.push_back(d->name);
        for (const auto& dep : d->dependencies) visit(by_name[dep]);
        path.pop_back();
        state[d->name] = 2;
        out.push_back(d);
    };
    for (auto* d : enabled) visit(d);
    return out;
}

}  // namespace arclight
