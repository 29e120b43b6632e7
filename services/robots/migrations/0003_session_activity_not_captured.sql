-- Session activity is not followed by change capture any more. It is rewritten with every
-- document a session sends, so its before and after images were a sixth of the outbox at load,
-- and no read document is built from it (the translator refuses a configuration that reads it,
-- naming the tables it does follow).
DROP TRIGGER IF EXISTS translator_outbox_insert ON session_activity;
DROP TRIGGER IF EXISTS translator_outbox_update ON session_activity;
DROP TRIGGER IF EXISTS translator_outbox_delete ON session_activity;
