-- Event durability (EVENT_DURABILITY=async): a session may send an event before PostgreSQL has
-- it. `event_seq_reserved` is the high-water mark written ahead of such sends: no event id above
-- it was ever sent. A session that starts again after losing unflushed events continues above
-- max(last_seq, event_seq_reserved), so it never reuses an id a client may have seen; the ids
-- in between are a hole of the stored history (a reconnecting client gets a `gap` event).

ALTER TABLE sessions ADD COLUMN event_seq_reserved bigint NOT NULL DEFAULT 0;
