-- Personal access tokens (kgp_…): named, long-lived, scoped credentials an account makes for
-- itself, each bound to one API like any token. Only a keyed hash of the token is kept.
create table personal_tokens (
    id           text primary key,
    account_id   text not null references service_accounts (id) on delete cascade,
    name         text not null,
    prefix       text not null,
    token_hash   text not null unique,
    api_id       text not null,
    scope        text not null default '',
    created_at   bigint not null,
    expires_at   bigint not null,
    last_used_at bigint
);
create index personal_tokens_account on personal_tokens (account_id);

-- Why an account was disabled by keygate itself (a reported leak), shown until an
-- administrator enables it again.
alter table service_accounts add column disabled_reason text;
