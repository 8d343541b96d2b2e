#pragma once
// Commit-ordered positions on PostgreSQL, one mechanism shared by the outcome feed
// (outcomes.cpp) and the recorded events (event_store.cpp): a row takes the id of the transaction
// that writes it, and every position below the oldest running transaction's id is complete
// (nothing can be committed there later). Macros, so statements are put together at compile time.
//
// txid_current() and txid_snapshot_xmin() are the bigint forms of pg_current_xact_id() and
// pg_snapshot_xmin() (the same 64-bit values, marked deprecated but kept by PostgreSQL): xid8 has
// no cast to bigint, and the way through text cost an output and an input conversion per row
// written.
#define ARCLIGHT_PG_POSITION "txid_current()"
#define ARCLIGHT_PG_HORIZON "SELECT txid_snapshot_xmin(txid_current_snapshot())"
