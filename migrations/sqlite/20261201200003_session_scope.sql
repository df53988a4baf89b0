-- The account page shows the permissions each live token carries.
alter table issued_tokens add column scope text not null default '';
