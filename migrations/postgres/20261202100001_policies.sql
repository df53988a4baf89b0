-- Account policies (issue 12). The policies themselves are one JSON row of `settings`
-- (name 'policies'); the unused-account job takes a lease row there too.
-- keygate's own API gains policies:write, held by the built-in Administrator role.
insert into api_permissions (api_id, name, description)
values ('builtin-keygate', 'policies:write', 'Change the installation''s account policies.');
insert into role_permissions (role_id, permission)
values ('builtin-administrator', 'policies:write');

-- When the current client secret was made, for the credential-lifetime policy. Existing
-- secrets count from their last regeneration (as the audit log records it), else from the
-- account's creation.
alter table service_accounts add column secret_created_at bigint not null default 0;
update service_accounts set secret_created_at = coalesce(
    (select max(e.at) from audit_events e
     where e.target_id = service_accounts.id
       and e.action = 'service_account.credentials_regenerated'),
    created_at);
