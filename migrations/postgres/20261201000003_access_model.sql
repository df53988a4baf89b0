-- The access model. An API (a resource server, RFC 8707) has an identifier, the `aud` of
-- its tokens, and defines permissions; every role belongs to one API. keygate itself is the
-- built-in API; its identifier is `<issuer>/api`, known only at run time, so its row
-- holds ''. A service account may be bound to one API (its product). Nodes form a tree
-- below the implicit root (the installation); role bindings at nodes live in
-- account_bindings / group_bindings, root-level bindings stay in account_roles / group_roles.
-- name_key columns are filled by keygate (Unicode lowercase, as for accounts).
create table apis (
    id          text primary key,
    name        text not null,
    name_key    text not null,
    identifier  text not null,
    description text not null default '',
    builtin     bigint not null default 0,
    created_at  bigint not null,
    updated_at  bigint not null
);
create unique index apis_name on apis (name_key);
create unique index apis_identifier on apis (identifier);

create table api_permissions (
    api_id      text not null references apis (id) on delete cascade,
    name        text not null,
    description text not null default '',
    primary key (api_id, name)
);

insert into apis (id, name, name_key, identifier, description, builtin, created_at, updated_at)
values ('builtin-keygate', 'keygate', 'keygate', '', 'keygate''s own REST API.', 1, 0, 0);
insert into api_permissions (api_id, name, description) values
  ('builtin-keygate', 'service-accounts:read', 'See service accounts, roles and groups.'),
  ('builtin-keygate', 'service-accounts:write', 'Change service accounts.'),
  ('builtin-keygate', 'roles:write', 'Create, change and delete roles, groups, APIs and nodes.'),
  ('builtin-keygate', 'audit:read', 'Read the audit log.'),
  ('builtin-keygate', 'tokens:introspect', 'Introspect access tokens (RFC 7662).'),
  ('builtin-keygate', 'users:read', 'See console users.'),
  ('builtin-keygate', 'users:write', 'Add, change and disable console users.');

-- Existing custom permissions (those that are not keygate's) go to an API made for them,
-- which the administrator can rename and give its real identifier.
insert into apis (id, name, name_key, identifier, description, builtin, created_at, updated_at)
select 'migrated-custom', 'custom', 'custom', 'urn:keygate:custom',
       'Made by the upgrade for the permissions of earlier custom roles: rename it and give it your API''s identifier.',
       0, 0, 0
where exists (select 1 from role_permissions rp join roles r on r.id = rp.role_id
              where r.builtin = 0 and rp.permission not in ('service-accounts:read', 'service-accounts:write', 'roles:write', 'audit:read', 'tokens:introspect', 'users:read', 'users:write'));
insert into api_permissions (api_id, name, description)
select distinct 'migrated-custom', rp.permission, '' from role_permissions rp
join roles r on r.id = rp.role_id
where r.builtin = 0 and rp.permission not in ('service-accounts:read', 'service-accounts:write', 'roles:write', 'audit:read', 'tokens:introspect', 'users:read', 'users:write');

alter table roles add column api_id text not null default 'builtin-keygate';

-- A custom role holding only other permissions moves to that API.
update roles set api_id = 'migrated-custom'
where builtin = 0
  and not exists (select 1 from role_permissions rp where rp.role_id = roles.id and rp.permission in ('service-accounts:read', 'service-accounts:write', 'roles:write', 'audit:read', 'tokens:introspect', 'users:read', 'users:write'))
  and exists (select 1 from role_permissions rp where rp.role_id = roles.id and rp.permission not in ('service-accounts:read', 'service-accounts:write', 'roles:write', 'audit:read', 'tokens:introspect', 'users:read', 'users:write'));

-- A role holding both keeps keygate's permissions and gets a twin in the other API with the
-- rest, held by the same accounts, groups and users: nothing is lost.
insert into roles (id, name, description, builtin, created_at, updated_at, api_id)
select id || '-custom', name || ' (custom)', description, 0, created_at, updated_at, 'migrated-custom'
from roles
where builtin = 0 and api_id = 'builtin-keygate'
  and exists (select 1 from role_permissions rp where rp.role_id = roles.id and rp.permission not in ('service-accounts:read', 'service-accounts:write', 'roles:write', 'audit:read', 'tokens:introspect', 'users:read', 'users:write'));
insert into role_permissions (role_id, permission)
select rp.role_id || '-custom', rp.permission from role_permissions rp
where rp.permission not in ('service-accounts:read', 'service-accounts:write', 'roles:write', 'audit:read', 'tokens:introspect', 'users:read', 'users:write')
  and exists (select 1 from roles t where t.id = rp.role_id || '-custom');
insert into account_roles (account_id, role_id)
select ar.account_id, ar.role_id || '-custom' from account_roles ar
where exists (select 1 from roles t where t.id = ar.role_id || '-custom');
insert into group_roles (group_id, role_id)
select gr.group_id, gr.role_id || '-custom' from group_roles gr
where exists (select 1 from roles t where t.id = gr.role_id || '-custom');
insert into user_roles (user_id, role_id)
select ur.user_id, ur.role_id || '-custom' from user_roles ur
where exists (select 1 from roles t where t.id = ur.role_id || '-custom');
delete from role_permissions
where permission not in ('service-accounts:read', 'service-accounts:write', 'roles:write', 'audit:read', 'tokens:introspect', 'users:read', 'users:write')
  and role_id in (select id from roles where api_id = 'builtin-keygate');

-- The product an account is bound to (an API id), if any.
alter table service_accounts add column api_id text;

create table nodes (
    id          text primary key,
    name        text not null,
    name_key    text not null,
    kind        text not null default '',
    parent_id   text not null default '',
    created_at  bigint not null,
    updated_at  bigint not null
);
create unique index nodes_sibling_name on nodes (parent_id, name_key);

create table account_bindings (
    account_id text not null references service_accounts (id) on delete cascade,
    role_id    text not null references roles (id) on delete cascade,
    node_id    text not null references nodes (id),
    primary key (account_id, role_id, node_id)
);
create index account_bindings_node on account_bindings (node_id);

create table group_bindings (
    group_id text not null references groups (id) on delete cascade,
    role_id  text not null references roles (id) on delete cascade,
    node_id  text not null references nodes (id),
    primary key (group_id, role_id, node_id)
);
create index group_bindings_node on group_bindings (node_id);
