-- Names are compared through a key computed by keygate (Unicode lowercase), not by the
-- database's lower() (which depends on the collation, and on SQLite only knows ASCII).
-- keygate fills the key of older rows at start; uniqueness, lookups by name, the list's
-- order and search all use it.
alter table service_accounts add column name_key text;
create unique index service_accounts_name_key_unique on service_accounts (name_key);
create index service_accounts_name_key_order on service_accounts (name_key, id);

do $$
declare
    ext_schema text;
begin
    select n.nspname into ext_schema from pg_extension e
        join pg_namespace n on n.oid = e.extnamespace where e.extname = 'pg_trgm';
    if ext_schema is not null then
        execute format('create index service_accounts_name_key_trgm on service_accounts '
                       'using gin (name_key %I.gin_trgm_ops)', ext_schema);
    end if;
end
$$;

create or replace view service_account_names (account_id, name) as
    select id, name_key from service_accounts;
