#pragma once
// Commit-ordered positions on PostgreSQL, one mechanism shared by the outcome feed
// (outcomes.cpp) and the recorded events (event_store.cpp): a row takes the id of the transaction
// that writes it, and every position below the oldest running transaction's id is complete
// (nothing can be committed there later). Macros, so statements are put together at compile time.
#define ARCLIGHT_PG_POSITION "CAST(CAST(pg_current_xact_id() AS text) AS bigint)"
#define ARCLIGHT_PG_HORIZON "SELECT CAST(CAST(pg_snapshot_xmin(pg_current_snapshot()) AS text) AS bigint)"
