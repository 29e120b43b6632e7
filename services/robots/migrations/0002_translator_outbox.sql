-- Change capture for the translator: every statement that changes a projection table the
-- translator can follow records the changed rows (before and after images) here, in the same
-- transaction, and wakes the translator with NOTIFY. The translator deletes what it has turned
-- into documents. Statement-level triggers with transition tables cost one INSERT per statement,
-- which matters because the projector writes each batch with one statement per table.
-- Credentials and login failures are not followed: they never belong in a read document.

CREATE TABLE translator_outbox (
    id bigserial PRIMARY KEY,
    table_name text NOT NULL,
    row_image jsonb NOT NULL
);

CREATE FUNCTION translator_outbox_capture() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- The schema is looked up per call: `owp replay` renames schemas, and a rebuilt schema's
    -- rows must land in its own outbox.
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        EXECUTE format('INSERT INTO %I.translator_outbox (table_name, row_image) SELECT %L, to_jsonb(n) FROM new_rows n',
                       TG_TABLE_SCHEMA, TG_TABLE_NAME);
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        EXECUTE format('INSERT INTO %I.translator_outbox (table_name, row_image) SELECT %L, to_jsonb(o) FROM old_rows o',
                       TG_TABLE_SCHEMA, TG_TABLE_NAME);
    END IF;
    PERFORM pg_notify('owp_translator', TG_TABLE_SCHEMA);
    RETURN NULL;
END
$$;

DO $$
DECLARE
    followed text;
BEGIN
    FOREACH followed IN ARRAY ARRAY['users', 'sessions', 'session_activity', 'profiles', 'businesses', 'messages'] LOOP
        EXECUTE format('CREATE TRIGGER translator_outbox_insert AFTER INSERT ON %I REFERENCING NEW TABLE AS new_rows '
                       'FOR EACH STATEMENT EXECUTE FUNCTION translator_outbox_capture()', followed);
        EXECUTE format('CREATE TRIGGER translator_outbox_update AFTER UPDATE ON %I REFERENCING NEW TABLE AS new_rows OLD TABLE AS old_rows '
                       'FOR EACH STATEMENT EXECUTE FUNCTION translator_outbox_capture()', followed);
        EXECUTE format('CREATE TRIGGER translator_outbox_delete AFTER DELETE ON %I REFERENCING OLD TABLE AS old_rows '
                       'FOR EACH STATEMENT EXECUTE FUNCTION translator_outbox_capture()', followed);
    END LOOP;
END
$$;
