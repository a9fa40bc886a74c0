-- Offline queue quotas (docs/PROTOCOL.md §4 "Offline queue"): who queued each
-- row, so a sender's share of every queue can be bounded. '' for rows the
-- server queued itself (notices, requeued unacknowledged frames).
ALTER TABLE relay_queue ADD COLUMN sender_user TEXT NOT NULL DEFAULT '';
CREATE INDEX idx_relay_queue_sender ON relay_queue (sender_user) WHERE sender_user <> '';
