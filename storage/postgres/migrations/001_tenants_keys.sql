-- Tenants and their API keys. Only the SHA-256 of a key is stored; `prefix` is for display.

CREATE TABLE tenants (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name text NOT NULL UNIQUE CHECK (name ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
  created_at timestamptz NOT NULL DEFAULT now(),
  allow_bypass_permissions boolean NOT NULL DEFAULT false
);

CREATE TABLE api_keys (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  name text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
  scopes text[] NOT NULL
    CHECK (scopes <@ ARRAY['agent', 'admin']::text[] AND cardinality(scopes) > 0),
  key_hash bytea NOT NULL UNIQUE CHECK (octet_length(key_hash) = 32),
  prefix text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  last_used_at timestamptz,
  revoked_at timestamptz
);

-- Listing keys: all of them, or one tenant's, in creation order.
CREATE INDEX api_keys_created_idx ON api_keys (created_at, id);
CREATE INDEX api_keys_tenant_created_idx ON api_keys (tenant_id, created_at, id);
