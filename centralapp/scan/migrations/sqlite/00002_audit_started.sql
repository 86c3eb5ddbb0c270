-- +goose Up
-- Retention deletes the audit log's oldest probes by start.
CREATE INDEX audit_started ON audit (started);

-- +goose Down
DROP INDEX audit_started;
