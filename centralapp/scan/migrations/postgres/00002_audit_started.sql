-- +goose Up
-- Retention deletes the audit log's oldest probes by start.
CREATE INDEX scan_audit_started ON scan_audit (started);

-- +goose Down
DROP INDEX scan_audit_started;
