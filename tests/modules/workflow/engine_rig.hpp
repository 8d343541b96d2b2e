#pragma once
// Pieces of the tests that drive workflow engines directly (several "instances" on one database,
// each an Engine with its own bus, clock or task types): storing a workflow, starting a run of
// it, and stopping an engine so that LeakSanitizer finds nothing left behind.
#include "core/db/db.hpp"
#include "core/time/time.hpp"
#include "core/util/ids.hpp"
#include "modules/workflow/engine.hpp"
#include "modules/workflow/store.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>
#include <doctest/doctest.h>

#include <chrono>
#include <memory>
#include <string>

namespace arclight::test {

/// Stores a workflow (version 1, inactive) as the API would; its id.
inline std::string insert_workflow(Db& db, const std::string& definition, const std::string& name = {}) {
    workflow::Store store(db.backend() == DbBackend::sqlite);
    workflow::WorkflowRecord w;
    w.id = new_uuid();
    w.name = name.empty() ? w.id : name;
    w.version = 1;
    w.active = false;
    w.definition = definition;
    w.created_at = w.updated_at = now_ms();
    db.with_session([&](soci::session& s) { store.insert_workflow(s, w); });
    return w.id;
}

/// Starts a run of `version` on `engine` (from `pool`, as a request would); the run's id.
inline std::string start_run(workflow::Engine& engine, boost::asio::thread_pool& pool,
                             std::shared_ptr<const workflow::WorkflowVersion> version,
                             boost::json::value input = boost::json::object()) {
    REQUIRE(version);
    workflow::StartRequest req;
    req.wf = std::move(version);
    req.input = std::move(input);
    auto fut = boost::asio::co_spawn(pool.get_executor(), engine.start_run(std::move(req)), boost::asio::use_future);
    return fut.get().id;
}

/// Stops the engine, then lets everything already posted to `pool` run to its end (stopping the
/// pool instead would abandon coroutine frames that hold the engine, which LeakSanitizer reports).
inline void stop_engine(std::unique_ptr<workflow::Engine>& engine, boost::asio::thread_pool& pool) {
    if (!engine) return;
    engine->stop(std::chrono::steady_clock::now() + std::chrono::seconds(5));
    engine.reset();
    pool.join();
}

}  // namespace arclight::test
