-- Server processes sharing this database (several instances behind a load balancer on PostgreSQL).
CREATE TABLE system_instances (
    id TEXT PRIMARY KEY,
    hostname TEXT NOT NULL,
    version TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL
);
CREATE INDEX system_instances_last_seen ON system_instances (last_seen_at);
