-- idx_session_user (user_id alone) served no query: sessions are read by
-- session_id (primary key), deleted by device_id (idx_session_device) and
-- purged by expires_at (idx_session_expires). Keeping it cost one more B-tree
-- insert per handshake. Deleting an account (ON DELETE CASCADE from
-- app_user) would scan the session table instead; nothing deletes accounts.
DROP INDEX IF EXISTS idx_session_user;
