-- Agent sessions: the session rows, their event log (the SSE history and replay source), their
-- turns, and the CLI's JSONL transcript lines (so a session resumes on any node). Events, turns
-- and transcript lines go with their session (ON DELETE CASCADE).

CREATE TABLE sessions (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  cli_session_id uuid NOT NULL,
  parent_session_id uuid,
  fork_depth integer NOT NULL DEFAULT 0 CHECK (fork_depth BETWEEN 0 AND 32),
  status text NOT NULL
    CHECK (status IN ('starting', 'idle', 'running', 'hibernated', 'interrupted', 'error')),
  model text,
  permission_mode text NOT NULL DEFAULT 'default',
  cwd text NOT NULL DEFAULT '',  -- relative to the tenant workspace
  options jsonb NOT NULL DEFAULT '{}',  -- spawn-time options, to re-spawn after hibernation
  title text,
  tags text[] NOT NULL DEFAULT '{}',
  total_turns integer NOT NULL DEFAULT 0,
  total_cost_usd double precision NOT NULL DEFAULT 0,
  usage jsonb NOT NULL DEFAULT '{}',
  last_seq bigint NOT NULL DEFAULT 0,  -- the highest seq in session_events
  owner_node text,
  epoch bigint NOT NULL DEFAULT 0,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  -- The target of the parent reference below: a parent is always of the same tenant.
  UNIQUE (id, tenant_id),
  -- Deleting a parent keeps its forks (and their tenant): only the reference is cleared.
  FOREIGN KEY (parent_session_id, tenant_id) REFERENCES sessions (id, tenant_id)
    ON DELETE SET NULL (parent_session_id)
);

-- Listing a tenant's sessions, newest first.
CREATE INDEX sessions_tenant_created_idx ON sessions (tenant_id, created_at DESC, id);
-- The start-up recovery scan: only sessions in flight.
CREATE INDEX sessions_in_flight_idx ON sessions (status) WHERE status IN ('running', 'starting');
-- ON DELETE SET NULL of the parent reference.
CREATE INDEX sessions_parent_idx ON sessions (parent_session_id)
  WHERE parent_session_id IS NOT NULL;

-- One row per event of a session's stream; seq is the SSE id (1, 2, 3, ... without holes).
CREATE TABLE session_events (
  session_id uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
  seq bigint NOT NULL CHECK (seq > 0),
  type text NOT NULL,
  payload jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (session_id, seq)
);

CREATE TABLE turns (
  session_id uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
  turn integer NOT NULL CHECK (turn > 0),
  prompt_uuid uuid NOT NULL,  -- the uuid of the user message (the file-checkpoint id)
  status text NOT NULL CHECK (status IN ('running', 'completed', 'interrupted', 'error')),
  started_at timestamptz NOT NULL DEFAULT now(),
  ended_at timestamptz,
  cost_usd double precision,
  usage jsonb,
  PRIMARY KEY (session_id, turn)
);

-- The CLI transcript (JSONL) of a session, one row per line exactly as the CLI wrote it.
-- `subpath` names the file relative to the session's transcript ('' = the main transcript,
-- e.g. 'subagents/agent-x'); no component may start with a dot, so it never leaves that place.
CREATE TABLE session_transcripts (
  session_id uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
  subpath text NOT NULL DEFAULT ''
    CHECK (subpath ~ '^([A-Za-z0-9_][A-Za-z0-9_.-]*(/[A-Za-z0-9_][A-Za-z0-9_.-]*)*)?$'
           AND char_length(subpath) <= 255),
  line_no bigint NOT NULL CHECK (line_no >= 0),
  entry text NOT NULL,
  PRIMARY KEY (session_id, subpath, line_no)
);

-- Adds usage objects: numbers are summed, nested objects added recursively, anything else
-- (e.g. service_tier) takes the newer value. NULL or a non-object counts as {}.
CREATE FUNCTION caa_usage_add(a jsonb, b jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $fn$
BEGIN
  RETURN (
    SELECT coalesce(jsonb_object_agg(coalesce(x.key, y.key),
             CASE
               WHEN jsonb_typeof(x.value) = 'number' AND jsonb_typeof(y.value) = 'number'
                 THEN to_jsonb(x.value::numeric + y.value::numeric)
               WHEN jsonb_typeof(x.value) = 'object' AND jsonb_typeof(y.value) = 'object'
                 THEN caa_usage_add(x.value, y.value)
               ELSE coalesce(y.value, x.value)
             END), '{}'::jsonb)
    FROM jsonb_each(CASE WHEN jsonb_typeof(a) = 'object' THEN a ELSE '{}'::jsonb END) x
    FULL JOIN jsonb_each(CASE WHEN jsonb_typeof(b) = 'object' THEN b ELSE '{}'::jsonb END) y
      ON x.key = y.key);
END
$fn$;
