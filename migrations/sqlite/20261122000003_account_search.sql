-- The account list at scale: a (lower(name), id) index for the keyset-paged order, and a
-- trigram index for substring search of names (FTS5), reached through the view
-- service_account_names (account_id, name) that PostgreSQL defines over pg_trgm instead, so
-- the query text is the same on both backends.

create index service_accounts_name_order on service_accounts (lower(name), id);

-- A stable integer key per account for the full-text index (rowids of a table with a text
-- primary key may change on VACUUM).
create table account_name_keys (
    key        integer primary key,
    account_id text not null unique
);
create virtual table account_name_trigrams using fts5 (name, tokenize = 'trigram', detail = 'none');

create view service_account_names (account_id, name) as
    select k.account_id, t.name from account_name_trigrams t
    join account_name_keys k on k.key = t.rowid;

insert into account_name_keys (account_id) select id from service_accounts;
insert into account_name_trigrams (rowid, name)
    select k.key, lower(s.name) from account_name_keys k join service_accounts s on s.id = k.account_id;

create trigger service_accounts_search_insert after insert on service_accounts begin
    insert into account_name_keys (account_id) values (new.id);
    insert into account_name_trigrams (rowid, name) values (last_insert_rowid(), lower(new.name));
end;

create trigger service_accounts_search_rename after update of name on service_accounts begin
    update account_name_trigrams set name = lower(new.name)
        where rowid = (select key from account_name_keys where account_id = new.id);
end;

create trigger service_accounts_search_delete after delete on service_accounts begin
    delete from account_name_trigrams
        where rowid = (select key from account_name_keys where account_id = old.id);
    delete from account_name_keys where account_id = old.id;
end;
