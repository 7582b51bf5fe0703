-- Each tenant's slot in the agent sandbox's uid range: its CLI processes run as host uid
-- AGENT_UID_BASE + agent_slot on every node and after every restart. Slots are never reused
-- (a deleted tenant's files may still be on disk with its uid).

CREATE SEQUENCE tenant_agent_slot_seq AS integer MINVALUE 0 START 0;

ALTER TABLE tenants
  ADD COLUMN agent_slot integer NOT NULL UNIQUE DEFAULT nextval('tenant_agent_slot_seq');

ALTER SEQUENCE tenant_agent_slot_seq OWNED BY tenants.agent_slot;
