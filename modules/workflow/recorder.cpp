#include "modules/workflow/recorder.hpp"

#include "core/db/db.hpp"
#include "core/util/text.hpp"
#include "modules/workflow/rows.hpp"

#include <boost/json/serialize.hpp>

#include <algorithm>

namespace arclight::workflow {
namespace json = boost::json;

Recorder::Recorder(Db& db, Driver& driver, std::string instance_id, std::int64_t lease_ms, std::size_t max_batch,
                   std::size_t pg_writers)
    : driver_(driver), instance_(std::move(instance_id)), lease_ms_(lease_ms) {
    std::size_t n = db.backend() == DbBackend::sqlite ? 1 : std::max<std::size_t>(1, pg_writers);
    for (std::size_t k = 0; k < n; ++k) writers_.push_back(std::make_unique<Writer>(db, max_batch));
}

void Recorder::start() {
    for (auto& w : writers_) w->start();
}

void Recorder::stop() {
    for (auto& w : writers_) w->stop();
}

void Recorder::task(const RunPtr& r, int k, std::function<void(Run&, bool applied)> then) {
    if (!r->durable) {
        then(*r, true);
        return;
    }
    r->tasks[k].has_row = true;
    ++r->tasks[k].committing;
    ++r->pending_writes;
    Driver* d = &driver_;
    writer_for(r->id).put_task(task_row(*r, k, instance_),
                               [d, r = RunPtr(r), k, then = std::move(then)](const WriteResult& res) mutable {
                                   // The writer drops its reference here, before the batch ends: the
                                   // run is then freed on an I/O thread, not on the writer's (a run
                                   // freed there cost the writer a tenth of its time). `r` is
                                   // captured as a non-const copy, or the move would copy.
                                   RunPtr mine = std::move(r);
                                   d->notify_async(mine, [d, r = mine, k, res, then = std::move(then)](Run& run) {
                                       --run.pending_writes;
                                       --run.tasks[k].committing;
                                       if (dropped(*d, r, res)) return;
                                       if (!res.error.empty()) return refused(*d, r, k, res.error);
                                       then(run, res.applied);
                                   });
                               });
}

// Fencing: a write refused for a stale lease generation drops the run (Driver::lost); a run
// already dropped goes no further (no continuation, no event).
bool Recorder::dropped(Driver& d, const RunPtr& r, const WriteResult& res) {
    if (res.fenced) d.lost(r);
    return r->lost;
}

// The database refused task k's state (Writer::store_refused stored it as failed): the task and
// its run fail.
void Recorder::refused(Driver& d, const RunPtr& r, int k, const std::string& error) {
    auto& ts = r->tasks[k];
    ++ts.token;  // a result still to come is ignored
    ts.status = TS::failed;
    ts.output = nullptr;
    ts.error = "the task's state could not be stored";
    d.fail(r, "task " + r->def().tasks[k].id + ": its state could not be stored (" + to_storable_text(error.substr(0, 200)) + ")");
}

void Recorder::task_behind(const RunPtr& r, int k, std::function<void(Run&)> then) {
    r->tasks[k].has_row = true;
    ++r->pending_writes;
    Driver* d = &driver_;
    writer_for(r->id).put_task(task_row(*r, k, instance_), [d, r = RunPtr(r), k, then = std::move(then)](const WriteResult& res) mutable {
        RunPtr mine = std::move(r);
        d->notify_async(mine, [d, r = mine, k, res, then = std::move(then)](Run& run) {
            --run.pending_writes;
            if (dropped(*d, r, res)) return;
            if (!res.error.empty()) return refused(*d, r, k, res.error);
            then(run);
        });
    });
}

void Recorder::run(const RunPtr& r, std::function<void(Run&, bool applied, const std::string& error)> then) {
    if (!r->durable) {
        then(*r, true, {});
        return;
    }
    ++r->pending_writes;
    Driver* d = &driver_;
    writer_for(r->id).put_run(run_row(*r, instance_, lease_ms_, driver_.clock()),
                              [d, r = RunPtr(r), then = std::move(then)](const WriteResult& res) mutable {
                                  RunPtr mine = std::move(r);
                                  d->notify_async(mine, [d, r = mine, res, then = std::move(then)](Run& run) {
                                      --run.pending_writes;
                                      if (dropped(*d, r, res)) return;
                                      if (!res.error.empty() && terminal(run.status)) {
                                          // The writer stored it as failed (Writer::store_refused).
                                          run.status = RS::failed;
                                          run.error = "the run's state could not be stored";
                                      }
                                      then(run, res.applied, res.error);
                                  });
                              });
}

void Recorder::promote(const RunPtr& r) {
    if (r->durable) return;
    r->durable = true;
    if (r->trigger_json.empty()) r->trigger_json = json::serialize(r->ctx.as_object().at("trigger"));
    if (r->input_json.empty()) r->input_json = json::serialize(r->ctx.as_object().at("input"));
    Driver* d = &driver_;
    auto written = [d, r](const WriteResult& res) {
        d->notify_async(r, [d, r, fenced = res.fenced](Run& run) {
            --run.pending_writes;
            if (fenced) d->lost(r);
        });
    };
    ++r->pending_writes;
    writer_for(r->id).put_run(run_row(*r, instance_, lease_ms_, driver_.clock()), written);
    for (std::size_t k = 0; k < r->tasks.size(); ++k) {
        if (r->tasks[k].status == TS::pending || r->tasks[k].committing) continue;
        r->tasks[k].has_row = true;
        ++r->pending_writes;
        writer_for(r->id).put_task(task_row(*r, static_cast<int>(k), instance_), written);
    }
}

void Recorder::insert(RunRow row, Writer::Done done) {
    auto& w = writer_for(row.id);
    w.insert_run(std::move(row), std::move(done));
}

std::size_t Recorder::queued() const {
    std::size_t n = 0;
    for (const auto& w : writers_) n += w->queued();
    return n;
}

std::int64_t Recorder::failing_for_ms() const {
    std::int64_t n = 0;
    for (const auto& w : writers_) n = std::max(n, w->failing_for_ms());
    return n;
}

WriterStats Recorder::stats() const {
    WriterStats total;
    for (const auto& w : writers_) {
        auto one = w->stats();
        total.batches += one.batches;
        total.rows += one.rows;
        total.ignored += one.ignored;
        total.fenced += one.fenced;
        total.errors += one.errors;
        total.split += one.split;
        total.commit_us += one.commit_us;
        if (total.failure.empty() && !one.failure.empty()) {
            total.failure = one.failure;
            total.storage_failure = one.storage_failure;
        }
    }
    return total;
}

}  // namespace arclight::workflow
