-- The account page shows where each live token was requested from.
alter table issued_tokens add column source text not null default '';
