-- File checkpoints: a turn run with file checkpointing on is a checkpoint; its id is the turn's
-- prompt uuid (the CLI's checkpoint id). `files_modified` lists the paths (relative to the
-- tenant workspace) its Write/Edit/MultiEdit/NotebookEdit tool calls touched.
ALTER TABLE turns
  ADD COLUMN checkpointed boolean NOT NULL DEFAULT false,
  ADD COLUMN files_modified jsonb NOT NULL DEFAULT '[]'::jsonb
    CHECK (jsonb_typeof(files_modified) = 'array');

CREATE UNIQUE INDEX turns_checkpoint ON turns (session_id, prompt_uuid) WHERE checkpointed;
