-- idx_app_user_domain (domain alone) served no query: accounts are looked up
-- by user_id (primary key), by (handle, domain) (idx_app_user_handle_domain)
-- and listed by (created_at, user_id) (idx_app_user_created). Keeping it cost
-- one more B-tree insert per new account.
DROP INDEX IF EXISTS idx_app_user_domain;
