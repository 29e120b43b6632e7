-- Change capture is the translator's (services/translator/migrations, in schema owp_capture): the
-- outbox, capture function and triggers of migrations 0002 and 0003 go, in whichever schema is
-- migrated, so that a database that has them ends with one capture, as a new one does. Changes
-- their outbox held reach the documents all the same: the translator rebuilds every collection
-- when it first finds a projection schema under its own capture. The function goes with
-- CASCADE, which takes the triggers that run it.
DROP FUNCTION IF EXISTS translator_outbox_capture() CASCADE;
DROP TABLE IF EXISTS translator_outbox;
