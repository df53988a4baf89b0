-- Names are compared through a key computed by keygate (Unicode lowercase), not by the
-- database's lower(), which on SQLite only knows ASCII. keygate fills the key of older rows
-- at start; uniqueness, lookups by name, the list's order and search all use it.
alter table service_accounts add column name_key text;
create unique index service_accounts_name_key_unique on service_accounts (name_key);
create index service_accounts_name_key_order on service_accounts (name_key, id);

-- The trigram index follows the key.
drop trigger service_accounts_search_insert;
drop trigger service_accounts_search_rename;
create trigger service_accounts_search_insert after insert on service_accounts begin
    insert into account_name_keys (account_id) values (new.id);
    insert into account_name_trigrams (rowid, name)
        values (last_insert_rowid(), coalesce(new.name_key, lower(new.name)));
end;
create trigger service_accounts_search_rename after update of name, name_key on service_accounts begin
    update account_name_trigrams set name = coalesce(new.name_key, lower(new.name))
        where rowid = (select key from account_name_keys where account_id = new.id);
end;
