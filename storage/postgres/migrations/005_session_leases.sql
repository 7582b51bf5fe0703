-- Ownership of a live session in a cluster: a lease on its row. `owner_node` holds it until
-- `lease_expires_at`; every claim by a new actor raises `epoch`, and every write of the
-- session's events and rows names the epoch it was made under: a write under an older epoch
-- fails in SQL, so a paused or cut-off former owner can never append after a takeover.
-- A NULL expiry is no lease (a session at rest, or one stored before leases existed).

ALTER TABLE sessions ADD COLUMN lease_expires_at timestamptz;

-- Raises SQLSTATE CAA01 unless session `sid` is at epoch `ep` (0: unfenced, for tools and tests).
-- Locks the row against a concurrent takeover until the caller's transaction ends: a write
-- either commits before a takeover or sees the new epoch and fails.
CREATE FUNCTION caa_fence(sid uuid, ep bigint) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
  cur bigint;
BEGIN
  IF ep IS NULL OR ep = 0 THEN
    RETURN true;
  END IF;
  SELECT epoch INTO cur FROM sessions WHERE id = sid FOR SHARE;
  IF cur IS NOT NULL AND cur <> ep THEN
    RAISE EXCEPTION 'session % is at epoch %, not %', sid, cur, ep USING ERRCODE = 'CAA01';
  END IF;
  RETURN true;
END
$$;
