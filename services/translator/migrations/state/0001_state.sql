-- The translator's bookkeeping (schema owp_translator). IF NOT EXISTS: it adopts a schema made
-- before its tables were migrations.

-- Collection versions are numbered from one sequence, so a version is never reused.
CREATE SEQUENCE IF NOT EXISTS owp_translator.versions;

-- Which version of each collection is published, from which configuration, and whether an
-- operator asked for a rebuild.
CREATE TABLE IF NOT EXISTS owp_translator.collections (
    name text PRIMARY KEY,
    version integer NOT NULL,
    config_hash text NOT NULL,
    rebuild_requested boolean NOT NULL DEFAULT false,
    rebuilt_at timestamptz,
    documents bigint
);

-- The oid of the projection schema the capture triggers were last found on (one row).
CREATE TABLE IF NOT EXISTS owp_translator.followed (
    id boolean PRIMARY KEY DEFAULT true CHECK (id),
    projection bigint NOT NULL
);
