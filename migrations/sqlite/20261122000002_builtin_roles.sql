-- Built-in roles. Their ids are stable so later migrations can refer to them.
insert into roles (id, name, description, builtin, created_at, updated_at) values
  ('builtin-administrator', 'Administrator', 'Every keygate permission.', 1, 0, 0),
  ('builtin-service-account-manager', 'Service Account Manager', 'Sees and changes service accounts.', 1, 0, 0),
  ('builtin-auditor', 'Auditor', 'Sees service accounts and the audit log.', 1, 0, 0),
  ('builtin-token-introspector', 'Token Introspector', 'May introspect access tokens (RFC 7662).', 1, 0, 0);

insert into role_permissions (role_id, permission) values
  ('builtin-administrator', 'service-accounts:read'),
  ('builtin-administrator', 'service-accounts:write'),
  ('builtin-administrator', 'roles:write'),
  ('builtin-administrator', 'audit:read'),
  ('builtin-administrator', 'tokens:introspect'),
  ('builtin-administrator', 'users:read'),
  ('builtin-administrator', 'users:write'),
  ('builtin-service-account-manager', 'service-accounts:read'),
  ('builtin-service-account-manager', 'service-accounts:write'),
  ('builtin-auditor', 'service-accounts:read'),
  ('builtin-auditor', 'audit:read'),
  ('builtin-token-introspector', 'tokens:introspect');
