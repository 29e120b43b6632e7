-- Which version of each collection readers see. Each collection's versions are tables of their
-- own (`<collection>__v<n>`), made as the translator builds them; `<collection>` is a view on
-- the published one. IF NOT EXISTS: it adopts a schema made before this migration.
CREATE TABLE IF NOT EXISTS owp_read.published (collection text PRIMARY KEY, version integer NOT NULL);
