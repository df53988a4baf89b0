-- The account list at scale: a (lower(name), id) index for the keyset-paged order, and a
-- trigram index (pg_trgm) for substring search of names, reached through the view
-- service_account_names (account_id, name) that SQLite defines over FTS5 instead, so the
-- query text is the same on both backends.

create index service_accounts_name_order on service_accounts (lower(name), id);

-- pg_trgm is a trusted extension: a database owner may create it. It lives in the database,
-- not in this schema, so find it wherever it is; without it, search still works (unindexed).
do $$
declare
    ext_schema text;
begin
    begin
        create extension if not exists pg_trgm with schema public;
    exception when others then
        raise notice 'pg_trgm unavailable (%); name search will not be indexed', sqlerrm;
    end;
    select n.nspname into ext_schema from pg_extension e
        join pg_namespace n on n.oid = e.extnamespace where e.extname = 'pg_trgm';
    if ext_schema is not null then
        execute format('create index service_accounts_name_trgm on service_accounts '
                       'using gin (lower(name) %I.gin_trgm_ops)', ext_schema);
    end if;
end
$$;

create view service_account_names (account_id, name) as
    select id, lower(name) from service_accounts;
