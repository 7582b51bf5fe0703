-- A session's events are stored as runs: one row per batch the writer stores for a session
-- (consecutive seqs first_seq..last_seq), its types and payloads each one text separated by
-- byte 0x1E (JSON text cannot hold that control character; event names are the service's own).
-- A row per event cost PostgreSQL a tuple and an index entry per event; the throughput
-- scenario's sessions write tens to hundreds of events per batch (DECISIONS.md, "Performance
-- tuning"). The writer's append still checks each payload as `json` before it is stored. Runs of one session never overlap: every statement that writes them
-- takes the session's row lock and writes only above its `last_seq`.
--
-- `session_events` stays as a view with one row per event, for reading by hand.
--
-- Rewrites the stored events once (time proportional to them).

CREATE TABLE session_event_runs (
  session_id uuid NOT NULL,
  first_seq bigint NOT NULL CHECK (first_seq > 0),
  last_seq bigint NOT NULL,
  types text NOT NULL,
  payloads text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (session_id, first_seq),
  CHECK (last_seq >= first_seq)
);

-- A run's texts beyond about 2 kB are compressed with lz4 where the server has it: measured with
-- pgbench, batches of 100 to 256 events were stored 1.25 to 1.5 times as fast as with the default
-- pglz. A server built without lz4 keeps pglz.
DO $$
BEGIN
  ALTER TABLE session_event_runs ALTER COLUMN types SET COMPRESSION lz4,
    ALTER COLUMN payloads SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported OR invalid_parameter_value THEN
  NULL;
END $$;

INSERT INTO session_event_runs (session_id, first_seq, last_seq, types, payloads, created_at)
SELECT session_id, seq, seq, type, payload::text, created_at FROM session_events;

DROP TRIGGER sessions_drop_events ON sessions;
DROP FUNCTION caa_drop_events_of_deleted_sessions();
DROP TABLE session_events;

CREATE FUNCTION caa_drop_event_runs_of_deleted_sessions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM session_event_runs e USING deleted_sessions d WHERE e.session_id = d.id;
  RETURN NULL;
END $$;

CREATE TRIGGER sessions_drop_event_runs AFTER DELETE ON sessions
  REFERENCING OLD TABLE AS deleted_sessions
  FOR EACH STATEMENT EXECUTE FUNCTION caa_drop_event_runs_of_deleted_sessions();

CREATE VIEW session_events AS
SELECT r.session_id, r.first_seq + e.n - 1 AS seq, e.type, e.payload::json AS payload,
       r.created_at
FROM session_event_runs r,
     unnest(string_to_array(r.types, E'\x1e'), string_to_array(r.payloads, E'\x1e'))
       WITH ORDINALITY AS e (type, payload, n);
