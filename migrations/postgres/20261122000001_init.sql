-- keygate schema, PostgreSQL dialect. Times are bigint epoch milliseconds, ids are text,
-- flags are bigints, so every query in src/store is the same text on both backends.

create table service_accounts (
    id                    text primary key,
    name                  text not null,
    description           text not null default '',
    enabled               bigint  not null default 1,
    client_id             text not null unique,
    secret_hash           text not null,
    old_client_id         text unique,
    old_secret_hash       text,
    old_expires_at        bigint,
    token_lifetime_secs   bigint  not null default 3600,
    token_generation      bigint  not null default 0,
    created_at            bigint  not null,
    updated_at            bigint  not null,
    last_used_at          bigint
);
create unique index service_accounts_name_key on service_accounts (lower(name));
create index service_accounts_created on service_accounts (created_at, id);

create table roles (
    id          text primary key,
    name        text not null,
    description text not null default '',
    builtin     bigint  not null default 0,
    created_at  bigint  not null,
    updated_at  bigint  not null
);
create unique index roles_name_key on roles (lower(name));

create table role_permissions (
    role_id    text not null references roles (id) on delete cascade,
    permission text not null,
    primary key (role_id, permission)
);

create table account_roles (
    account_id text not null references service_accounts (id) on delete cascade,
    role_id    text not null references roles (id) on delete cascade,
    primary key (account_id, role_id)
);
create index account_roles_role on account_roles (role_id);

create table groups (
    id          text primary key,
    name        text not null,
    description text not null default '',
    created_at  bigint  not null,
    updated_at  bigint  not null
);
create unique index groups_name_key on groups (lower(name));

create table group_roles (
    group_id text not null references groups (id) on delete cascade,
    role_id  text not null references roles (id) on delete cascade,
    primary key (group_id, role_id)
);

create table account_groups (
    account_id text not null references service_accounts (id) on delete cascade,
    group_id   text not null references groups (id) on delete cascade,
    primary key (account_id, group_id)
);
create index account_groups_group on account_groups (group_id);

create table console_users (
    id            text primary key,
    username      text not null,
    password_hash text not null,
    enabled       bigint  not null default 1,
    created_at    bigint  not null,
    updated_at    bigint  not null,
    last_login_at bigint
);
create unique index console_users_username_key on console_users (lower(username));

create table user_roles (
    user_id text not null references console_users (id) on delete cascade,
    role_id text not null references roles (id) on delete cascade,
    primary key (user_id, role_id)
);

create table console_sessions (
    id_hash      text primary key,
    user_id      text not null references console_users (id) on delete cascade,
    csrf_token   text not null,
    created_at   bigint  not null,
    last_seen_at bigint  not null,
    expires_at   bigint  not null
);
create index console_sessions_user on console_sessions (user_id);

create table audit_events (
    id          bigserial primary key,
    at          bigint  not null,
    actor_kind  text not null,
    actor_id    text not null,
    actor_name  text not null,
    action      text not null,
    target_kind text not null default '',
    target_id   text not null default '',
    target_name text not null default '',
    source      text not null default '',
    detail      text not null default ''
);
create index audit_events_at on audit_events (at, id);
create index audit_events_target on audit_events (target_id, id);

create table signing_keys (
    kid             text primary key,
    alg             text not null,
    private_key_enc text not null,
    public_jwk      text not null,
    created_at      bigint  not null,
    retired_at      bigint
);

create table revoked_tokens (
    jti        text primary key,
    account_id text not null,
    expires_at bigint  not null
);
create index revoked_tokens_expires on revoked_tokens (expires_at);

-- Change feed: every instance polls it (and, on PostgreSQL, is woken by NOTIFY) to drop
-- stale entries from its in-memory caches, so the token path never reads per request.
create table changes (
    seq  bigserial primary key,
    at   bigint  not null,
    kind text not null,
    key  text not null
);
