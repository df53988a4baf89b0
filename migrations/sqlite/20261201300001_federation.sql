-- Workload identity federation (issue 14): external issuers whose tokens keygate trusts
-- (GitHub Actions, GitLab CI, a Kubernetes cluster, SPIFFE), and per account the claims
-- such a token must carry to stand in for that account's credentials.
create table trusted_issuers (
    id          text primary key,
    name        text not null unique,
    issuer      text not null unique,
    jwks_uri    text,
    audience    text,
    created_at  integer not null,
    updated_at  integer not null
);

create table federated_credentials (
    id                text primary key,
    account_id        text not null references service_accounts (id) on delete cascade,
    trusted_issuer_id text not null references trusted_issuers (id) on delete cascade,
    subject           text,
    -- JSON array of {claim, equals | matches}
    conditions        text not null,
    created_at        integer not null
);
create index federated_credentials_account on federated_credentials (account_id);
create index federated_credentials_issuer on federated_credentials (trusted_issuer_id);
