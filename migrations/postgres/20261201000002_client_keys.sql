-- private_key_jwt (RFC 7523 / RFC 10070): an account authenticates either with a client
-- secret or by signing assertions with one of its public keys (several at once, for
-- rotation). keygate never stores a private key.
alter table service_accounts add column auth_method text not null default 'client_secret_basic';

create table client_keys (
    account_id   text not null references service_accounts (id) on delete cascade,
    kid          text not null,
    algs         text not null,
    public_jwk   text not null,
    created_at   bigint not null,
    expires_at   bigint,
    last_used_at bigint,
    primary key (account_id, kid)
);

-- The replay guard: the jti of every accepted assertion, per client, until it expires.
create table used_assertions (
    client_id  text not null,
    jti        text not null,
    expires_at bigint not null,
    primary key (client_id, jti)
);
create index used_assertions_expires on used_assertions (expires_at);
