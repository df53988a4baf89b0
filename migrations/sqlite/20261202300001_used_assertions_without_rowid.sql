-- The replay guard's table, rebuilt as one B-tree: a `without rowid` table keyed by
-- (client_id, jti) holds each row once, where a rowid table kept it twice (the table and its
-- primary-key index) and a third time in an index on expires_at. Each accepted assertion
-- inserts one row, so this is a third of the pages written per grant. Expired rows are
-- pruned every ten minutes by a scan, which needs no index.
create table used_assertions_new (
    client_id  text not null,
    jti        text not null,
    expires_at integer not null,
    primary key (client_id, jti)
) without rowid;
insert into used_assertions_new (client_id, jti, expires_at)
    select client_id, jti, expires_at from used_assertions;
drop table used_assertions;
alter table used_assertions_new rename to used_assertions;
