-- Facts an instance records for the others and for the command line, by name: the issuer
-- URL the server runs with (so CLI commands print the URLs clients must use).
create table settings (
    name        text primary key,
    value       text not null,
    updated_at  bigint not null
);
