#pragma once
// Private to the state writer (writer.cpp, writer_sessions.cpp): the database session a Writer
// commits its batches through, and the failures that session tells apart.
#include "modules/workflow/writer.hpp"

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>

namespace arclight::workflow {

// A change the database refused for what it is (bytes that are not text, a value out of range, a
// constraint), as opposed to a failure of the moment (connection lost, serialization failure,
// deadlock, disk full): retrying it can never work.
struct Refused : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// SQLite could not write at all: the disk is full, the file read-only, an I/O error
// (is_transient_sqlite_error). A failure of the moment like a lost connection (retried until it
// commits), but one new runs are refused for at once (503) and /readyz reports.
struct StorageFailure : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// The writer's database session: commits a batch of changes in one transaction (throws when the
// transaction fails; nothing of it is then committed) and says which changed a row.
struct Writer::Session {
    virtual ~Session() = default;
    virtual void commit(Op* ops, std::size_t n, char* applied) = 0;
    /// The run's lease generation; nullopt when there is no such run.
    virtual std::optional<std::int64_t> run_gen(const std::string& id) = 0;
    /// Between batches, once every caller of the last one has its answer: upkeep that must not
    /// delay a commit (SQLite: restarting a long write-ahead log). Throws nothing it cannot bear.
    virtual void after_batch() {}
};

}  // namespace arclight::workflow
