-- Brings versions and views of the layout before the `words` column up to date, so that the
-- translator and the read point work on them until the translator has rebuilt every collection
-- (which it does once after an upgrade, see its `LAYOUT`): until then, documents written before
-- the upgrade are not found by `q`.
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN
        SELECT c.relname FROM pg_class c
        WHERE c.relnamespace = 'owp_read'::regnamespace AND c.relkind = 'r' AND c.relname LIKE '%\_\_v%'
          AND NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'words' AND NOT a.attisdropped)
    LOOP
        EXECUTE format('ALTER TABLE owp_read.%I ADD COLUMN IF NOT EXISTS words text', r.relname);
    END LOOP;
    FOR r IN
        SELECT p.collection, p.version FROM owp_read.published p
        WHERE NOT EXISTS (SELECT 1 FROM pg_attribute a
                          WHERE a.attrelid = to_regclass(format('owp_read.%I', p.collection)) AND a.attname = 'words')
    LOOP
        EXECUTE format('CREATE OR REPLACE VIEW owp_read.%I AS SELECT key, doc, version, words FROM owp_read.%I WHERE doc IS NOT NULL',
                       r.collection, r.collection || '__v' || r.version);
    END LOOP;
END
$$;
