-- The translator's change capture, in schema owp_capture: every statement that changes a
-- projection table the translator follows records the changed rows (before and after images) in
-- the outbox, in the same transaction, and wakes the translator with NOTIFY. The translator
-- deletes what it has turned into documents. Statement-level triggers with transition tables
-- cost one INSERT per statement, which matters because the projector writes each batch with one
-- statement per table. Credentials, login failures and session activity are not followed: no
-- read document is built from them (session activity is rewritten with every document a session
-- sends).
--
-- Run as the projection's owner (the robots' role, where the database has roles), which then owns
-- all of it: the triggers run on the projector's writes, and PostgreSQL runs a trigger's function
-- with its owner's rights or the writer's. The translator may drain the outbox and run follow();
-- it can neither change these functions nor attach a trigger of its own.
--
-- The projection schema is named here, as everywhere it is a contract: owp
-- (owp_platform::db::PROJECTION_SCHEMA).

CREATE TABLE translator_outbox (
    id bigserial PRIMARY KEY,
    table_name text NOT NULL,
    row_image jsonb NOT NULL
);

CREATE FUNCTION capture() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    -- The live projection only: `owp replay` renames the schema it replaces to owp_previous, and
    -- its tables keep their triggers.
    IF TG_TABLE_SCHEMA <> 'owp' THEN
        RETURN NULL;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO owp_capture.translator_outbox (table_name, row_image)
        SELECT TG_TABLE_NAME, to_jsonb(n) FROM new_rows n;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        INSERT INTO owp_capture.translator_outbox (table_name, row_image)
        SELECT TG_TABLE_NAME, to_jsonb(o) FROM old_rows o;
    END IF;
    PERFORM pg_notify('owp_translator', TG_TABLE_SCHEMA);
    RETURN NULL;
END
$$;

-- Installs the capture triggers the followed tables of the live projection schema lack, and
-- returns that schema's oid and how many triggers it created. The schema is looked up once: if
-- `owp replay` swaps another one in meanwhile, the caller sees a different oid on its next call.
-- The translator runs it at start and whenever the projection schema's oid changes; the set-up
-- runs it too, so that a database it prepares has its capture at once.
CREATE FUNCTION follow(OUT projection oid, OUT installed integer)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    followed text;
    event text;
    relation regclass;
BEGIN
    installed := 0;
    -- Callers at once (every instance's set-up, the translator) would race on CREATE TRIGGER.
    PERFORM pg_advisory_xact_lock(hashtext('owp_capture.follow'));
    projection := to_regnamespace('owp');
    IF projection IS NULL THEN
        RAISE EXCEPTION 'the projection schema owp does not exist'
            USING ERRCODE = 'invalid_schema_name',
                  HINT = 'start the robots or run `owp database setup` first';
    END IF;
    FOREACH followed IN ARRAY ARRAY['users', 'sessions', 'profiles', 'businesses', 'messages'] LOOP
        SELECT c.oid INTO relation FROM pg_class c
         WHERE c.relnamespace = projection AND c.relname = followed AND c.relkind IN ('r', 'p');
        IF relation IS NULL THEN
            RAISE EXCEPTION 'the projection schema owp has no table %: it is not migrated yet', followed
                USING ERRCODE = 'undefined_table',
                      HINT = 'start the robots or run `owp database setup` first';
        END IF;
        FOREACH event IN ARRAY ARRAY['insert', 'update', 'delete'] LOOP
            CONTINUE WHEN EXISTS (SELECT FROM pg_trigger t
                                   WHERE t.tgrelid = relation AND t.tgname = 'translator_capture_' || event);
            EXECUTE format('CREATE TRIGGER %I AFTER %s ON %s REFERENCING %s FOR EACH STATEMENT '
                           'EXECUTE FUNCTION owp_capture.capture()',
                           'translator_capture_' || event, upper(event), relation,
                           CASE event WHEN 'insert' THEN 'NEW TABLE AS new_rows'
                                      WHEN 'update' THEN 'NEW TABLE AS new_rows OLD TABLE AS old_rows'
                                      ELSE 'OLD TABLE AS old_rows' END);
            installed := installed + 1;
        END LOOP;
    END LOOP;
END
$$;

-- A trigger's function needs no EXECUTE to fire; follow() is granted to the translator by name
-- (owp_platform::db::roles::GRANTS).
REVOKE EXECUTE ON FUNCTION capture(), follow() FROM PUBLIC;
