-- Recently issued access tokens, written in batches by the token endpoint (never per
-- request) so administrators can list an account's live sessions and revoke them one by one.
create table issued_tokens (
    jti        text primary key,
    account_id text not null references service_accounts (id) on delete cascade,
    client_id  text not null,
    generation bigint not null,
    issued_at  bigint not null,
    expires_at bigint not null
);
create index issued_tokens_account on issued_tokens (account_id, issued_at);
create index issued_tokens_expires on issued_tokens (expires_at);
