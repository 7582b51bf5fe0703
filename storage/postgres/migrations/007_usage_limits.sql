-- Usage per tenant and the tenants' spend caps.
--
-- usage_turns is the ledger of finished turns: one row per turn, written by the statement that
-- ends the turn (turn_finish), with the tenant in the row so the reports and the spend check read
-- one index. It has no reference to sessions on purpose: deleting a session must not erase what
-- it spent (a spend cap could be dodged that way); it goes with its tenant.
CREATE TABLE usage_turns (
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  session_id uuid NOT NULL,
  turn integer NOT NULL CHECK (turn > 0),
  ended_at timestamptz NOT NULL DEFAULT now(),
  model text NOT NULL DEFAULT 'unknown',
  cost_usd double precision NOT NULL DEFAULT 0,
  input_tokens bigint NOT NULL DEFAULT 0,
  output_tokens bigint NOT NULL DEFAULT 0,
  cache_creation_input_tokens bigint NOT NULL DEFAULT 0,
  cache_read_input_tokens bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (session_id, turn)
);

-- Reports and the spend check: a tenant's turns in a time window.
CREATE INDEX usage_turns_tenant_ended_idx ON usage_turns (tenant_id, ended_at) INCLUDE (cost_usd);

-- The integer `key` of a usage object (0 when absent or not a number).
CREATE FUNCTION caa_usage_int(u jsonb, key text) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
  SELECT CASE WHEN jsonb_typeof(u) = 'object' AND jsonb_typeof(u -> key) = 'number'
              THEN floor((u ->> key)::numeric)::bigint ELSE 0 END
$fn$;

-- The turns that ended before this migration.
INSERT INTO usage_turns (tenant_id, session_id, turn, ended_at, model, cost_usd, input_tokens,
                         output_tokens, cache_creation_input_tokens, cache_read_input_tokens)
SELECT s.tenant_id, t.session_id, t.turn, t.ended_at, coalesce(s.model, 'unknown'),
       coalesce(t.cost_usd, 0), caa_usage_int(t.usage, 'input_tokens'),
       caa_usage_int(t.usage, 'output_tokens'), caa_usage_int(t.usage, 'cache_creation_input_tokens'),
       caa_usage_int(t.usage, 'cache_read_input_tokens')
FROM turns t JOIN sessions s ON s.id = t.session_id
WHERE t.ended_at IS NOT NULL;

-- What the sandbox's model proxy forwarded, per tenant, session and UTC day (flushed in batches
-- from memory; requests and tokens as the upstream reported them).
CREATE TABLE usage_model_daily (
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  day date NOT NULL,
  session_id uuid NOT NULL,
  requests bigint NOT NULL DEFAULT 0,
  input_tokens bigint NOT NULL DEFAULT 0,
  output_tokens bigint NOT NULL DEFAULT 0,
  cache_creation_input_tokens bigint NOT NULL DEFAULT 0,
  cache_read_input_tokens bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (tenant_id, day, session_id)
);

-- A tenant's spend caps (UTC calendar day and month; NULL: no cap) and its share of agent
-- processes (NULL: TENANT_MAX_AGENT_PROCESSES).
CREATE TABLE tenant_limits (
  tenant_id uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
  monthly_usd double precision CHECK (monthly_usd >= 0),
  daily_usd double precision CHECK (daily_usd >= 0),
  max_agent_processes integer CHECK (max_agent_processes >= 0),
  hard boolean NOT NULL DEFAULT false,
  updated_at timestamptz NOT NULL DEFAULT now()
);
