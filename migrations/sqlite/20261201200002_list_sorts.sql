-- The console's list sorts by last use (never-used accounts as 0) as it does by name and by
-- creation (service_accounts_created): a keyset page reads this index in order.
create index service_accounts_last_used_order on service_accounts (coalesce(last_used_at, 0), id);
