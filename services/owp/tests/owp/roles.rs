//! Least privilege in PostgreSQL, against the real server: after `owp database setup`, each
//! service role can do what its queries need and nothing else. Every test makes its own
//! database; a missing server fails them.

use owp_platform::db::{DatabaseSettings, roles};
use sqlx::{Connection, PgConnection};

/// Schemas OWP has, each with a table in it after set-up (the read store's is made by the test,
/// as the translator makes one per collection version).
const SCHEMAS: [&str; 6] = ["owp", "owp_capture", "owp_robots", "owp_auth", "owp_translator", "owp_read"];

/// Settings of a database of the test's own (not created yet), and its name.
fn fresh_database() -> (DatabaseSettings, String) {
    let base = std::env::var("OWP_TEST_DATABASE_BASE")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    let name = format!("owp_test_roles_{}", uuid::Uuid::new_v4().simple());
    (DatabaseSettings::new(format!("{base}/{name}")), name)
}

/// Every service role, with no password (the tests connect as the admin acting as each).
fn logins() -> Vec<roles::Login> {
    roles::SERVICE_ROLES
        .iter()
        .map(|role| roles::Login { role: (*role).to_owned(), password: None })
        .collect()
}

struct Database {
    admin: DatabaseSettings,
    name: String,
}

impl Database {
    async fn set_up() -> Self {
        let (admin, name) = fresh_database();
        owp::database::setup(&admin, &logins()).await.expect("owp database setup (is PostgreSQL running?)");
        let db = Self { admin, name };
        // What the translator does for each collection version of the JSONB read store, and a
        // table in the command robot's schema as the robots make at start.
        let mut translator = db.connect(roles::TRANSLATOR).await;
        for statement in [
            "CREATE TABLE owp_read.probe__v1 (key text PRIMARY KEY, doc jsonb, version bigint NOT NULL, words text)",
            "INSERT INTO owp_read.probe__v1 VALUES ('k', '{}', 1, '')",
            "CREATE VIEW owp_read.probe AS SELECT key, doc, version, words FROM owp_read.probe__v1",
        ] {
            sqlx::query(statement).execute(&mut translator).await.unwrap();
        }
        let mut robots = db.connect(roles::ROBOTS).await;
        sqlx::query("CREATE TABLE owp_robots.robot_offsets (group_id text PRIMARY KEY, next_offset bigint)")
            .execute(&mut robots)
            .await
            .unwrap();
        db
    }

    async fn connect(&self, role: &str) -> PgConnection {
        let settings = self.admin.login_as(role, None).unwrap();
        PgConnection::connect(&settings.database_url)
            .await
            .unwrap_or_else(|err| panic!("{role} logs in: {err}"))
    }

    /// Every table and view of `schema`, with one of its columns and whether it is a view.
    async fn tables(&self, schema: &str) -> Vec<(String, String, bool)> {
        let mut admin = PgConnection::connect(&self.admin.database_url).await.unwrap();
        let tables: Vec<(String, String, bool)> = sqlx::query_as(
            "SELECT DISTINCT ON (c.table_name) c.table_name::text, c.column_name::text, t.table_type = 'VIEW'
               FROM information_schema.columns c JOIN information_schema.tables t USING (table_schema, table_name)
              WHERE c.table_schema = $1 ORDER BY c.table_name, c.ordinal_position",
        )
        .bind(schema)
        .fetch_all(&mut admin)
        .await
        .unwrap();
        assert!(!tables.is_empty(), "schema {schema} has no tables");
        tables
    }

    async fn drop(self) {
        let server = self.admin.database_url.replace(&format!("/{}", self.name), "/postgres");
        let mut admin = PgConnection::connect(&server).await.unwrap();
        sqlx::query(&format!("DROP DATABASE \"{}\" WITH (FORCE)", self.name))
            .execute(&mut admin)
            .await
            .unwrap();
    }
}

async fn refused(conn: &mut PgConnection, statement: &str) {
    match sqlx::query(statement).execute(&mut *conn).await {
        Ok(_) => panic!("allowed: {statement}"),
        Err(err) => {
            let code = err.as_database_error().and_then(|e| e.code()).map(|c| c.into_owned());
            assert_eq!(code.as_deref(), Some("42501"), "{statement}: {err}");
        }
    }
}

async fn allowed(conn: &mut PgConnection, statement: &str) {
    if let Err(err) = sqlx::query(statement).execute(&mut *conn).await {
        panic!("refused: {statement}: {err}");
    }
}

/// INSERT, UPDATE, DELETE and TRUNCATE on every table of `schema`, and CREATE in it, are refused.
async fn writes_refused(db: &Database, conn: &mut PgConnection, schema: &str) {
    for (table, column, view) in db.tables(schema).await {
        let table = format!("{schema}.\"{table}\"");
        refused(conn, &format!("INSERT INTO {table} DEFAULT VALUES")).await;
        refused(conn, &format!("UPDATE {table} SET \"{column}\" = \"{column}\"")).await;
        refused(conn, &format!("DELETE FROM {table}")).await;
        if !view {
            refused(conn, &format!("TRUNCATE {table}")).await;
        }
    }
    refused(conn, &format!("CREATE TABLE {schema}.intruder (a int)")).await;
}

#[tokio::test]
async fn the_read_point_reads_what_it_serves_and_writes_nothing() {
    let db = Database::set_up().await;
    let mut readpoint = db.connect(roles::READPOINT).await;
    // What it serves: sessions with the robots' rule, and the read store (tables and views the
    // translator made after the set-up, through default privileges).
    for statement in [
        "SELECT s.user_id FROM owp.sessions s LEFT JOIN owp.session_activity a USING (session_id)",
        "SELECT key, doc, version FROM owp_read.probe WHERE key = 'k'",
        "SELECT key FROM owp_read.probe__v1",
        "LISTEN owp_read",
    ] {
        allowed(&mut readpoint, statement).await;
    }
    for schema in SCHEMAS {
        writes_refused(&db, &mut readpoint, schema).await;
    }
    // Nor may it read what it does not serve.
    for statement in [
        "SELECT password_hash FROM owp.credentials",
        "SELECT * FROM owp.messages",
        "SELECT * FROM owp_auth.login_pair_failures",
        "SELECT * FROM owp_translator.collections",
        "CREATE SCHEMA intruder",
        "CREATE TEMP TABLE intruder (a int)",
        "CREATE TABLE public.intruder (a int)",
    ] {
        refused(&mut readpoint, statement).await;
    }
    drop(readpoint);
    db.drop().await;
}

#[tokio::test]
async fn auth_reads_the_projection_and_writes_only_its_own_schema() {
    let db = Database::set_up().await;
    let mut auth = db.connect(roles::AUTH).await;
    for statement in [
        "SELECT u.user_id, c.password_hash FROM owp.users u JOIN owp.credentials c USING (user_id)",
        "SELECT EXISTS (SELECT 1 FROM owp.sessions WHERE ended_at IS NULL)",
        "INSERT INTO owp_auth.login_address_failures VALUES ('192.0.2.1', now(), 1)",
        "DELETE FROM owp_auth.login_address_failures",
    ] {
        allowed(&mut auth, statement).await;
    }
    for schema in ["owp", "owp_capture", "owp_robots", "owp_translator", "owp_read"] {
        writes_refused(&db, &mut auth, schema).await;
    }
    refused(&mut auth, "SELECT * FROM owp.messages").await;
    drop(auth);
    db.drop().await;
}

#[tokio::test]
async fn the_translator_reads_the_projection_and_cannot_touch_auth_tables() {
    let db = Database::set_up().await;
    let mut translator = db.connect(roles::TRANSLATOR).await;
    for statement in [
        "SELECT * FROM owp.users JOIN owp.businesses ON true JOIN owp.profiles ON true JOIN owp.messages ON true",
        "DELETE FROM owp_capture.translator_outbox WHERE id < 0",
        "SELECT max(version) FROM owp._sqlx_migrations",
        "INSERT INTO owp_translator.collections (name, version, config_hash) VALUES ('probe', 1, 'h')",
        "SELECT nextval('owp_translator.versions')",
        "NOTIFY owp_read, 'probe'",
    ] {
        allowed(&mut translator, statement).await;
    }
    writes_refused(&db, &mut translator, "owp_auth").await;
    refused(&mut translator, "SELECT * FROM owp_auth.login_pair_failures").await;
    refused(&mut translator, "SELECT password_hash FROM owp.credentials").await;
    refused(&mut translator, "INSERT INTO owp.users DEFAULT VALUES").await;
    refused(&mut translator, "UPDATE owp.sessions SET ended_at = now()").await;
    drop(translator);
    db.drop().await;
}

#[tokio::test]
async fn the_robots_write_their_projection_and_nothing_of_the_others() {
    let db = Database::set_up().await;
    let mut robots = db.connect(roles::ROBOTS).await;
    allowed(
        &mut robots,
        "INSERT INTO owp.users (user_id, username, created_at) VALUES (gen_random_uuid(), 'ann', now())",
    )
    .await;
    allowed(&mut robots, "SELECT count(*) FROM owp_capture.translator_outbox").await;
    for schema in ["owp_auth", "owp_translator", "owp_read"] {
        writes_refused(&db, &mut robots, schema).await;
    }
    drop(robots);
    db.drop().await;
}

/// The capture triggers on the projection tables, as `table.trigger`, and whether the robots'
/// own capture (migrations 0002 and 0003) is still there.
async fn captures(admin: &mut PgConnection) -> (Vec<String>, bool) {
    let mut triggers: Vec<String> = sqlx::query_scalar(
        "SELECT c.relname || '.' || t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
          WHERE c.relnamespace = 'owp'::regnamespace AND NOT t.tgisinternal",
    )
    .fetch_all(&mut *admin)
    .await
    .unwrap();
    triggers.sort();
    let robots_own: bool = sqlx::query_scalar(
        "SELECT to_regclass('owp.translator_outbox') IS NOT NULL
             OR to_regprocedure('owp.translator_outbox_capture()') IS NOT NULL",
    )
    .fetch_one(&mut *admin)
    .await
    .unwrap();
    (triggers, robots_own)
}

/// One capture, the translator's, on every table it follows.
fn the_translators_capture() -> Vec<String> {
    let mut expected: Vec<String> = ["users", "sessions", "profiles", "businesses", "messages"]
        .iter()
        .flat_map(|table| {
            ["delete", "insert", "update"].map(|event| format!("{table}.translator_capture_{event}"))
        })
        .collect();
    expected.sort();
    expected
}

/// Change capture runs on the robots' writes as the projection's owner: they reach the outbox,
/// and the translator may install the capture and drain the outbox, but neither change the
/// capture nor attach a trigger of its own to a projection table (it would run as the robots,
/// who read credentials).
#[tokio::test]
async fn change_capture_is_the_projection_owners_and_the_translator_may_only_install_it() {
    let db = Database::set_up().await;
    let mut admin = PgConnection::connect(&db.admin.database_url).await.unwrap();
    assert_eq!(captures(&mut admin).await, (the_translators_capture(), false));
    let mut robots = db.connect(roles::ROBOTS).await;
    allowed(
        &mut robots,
        "INSERT INTO owp.users (user_id, username, created_at) VALUES (gen_random_uuid(), 'ann', now())",
    )
    .await;
    let mut translator = db.connect(roles::TRANSLATOR).await;
    let captured: i64 =
        sqlx::query_scalar("SELECT count(*) FROM owp_capture.translator_outbox WHERE table_name = 'users'")
            .fetch_one(&mut translator)
            .await
            .unwrap();
    assert_eq!(captured, 1, "the robots' insert is in the outbox");
    for statement in [
        "SELECT * FROM owp_capture.follow()",
        "DELETE FROM owp_capture.translator_outbox",
        "CREATE FUNCTION owp_translator.probe() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NULL; END'",
    ] {
        allowed(&mut translator, statement).await;
    }
    for statement in [
        "CREATE TRIGGER probe AFTER INSERT ON owp.users FOR EACH STATEMENT EXECUTE FUNCTION owp_translator.probe()",
        "CREATE OR REPLACE FUNCTION owp_capture.capture() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NULL; END'",
        "ALTER FUNCTION owp_capture.capture() SECURITY INVOKER",
        "ALTER FUNCTION owp_capture.follow() SECURITY INVOKER",
        "DROP TRIGGER translator_capture_insert ON owp.users",
        "ALTER TABLE owp.users DISABLE TRIGGER USER",
        "INSERT INTO owp_capture.translator_outbox (table_name, row_image) VALUES ('users', '{}')",
    ] {
        refused(&mut translator, statement).await;
    }
    let mut readpoint = db.connect(roles::READPOINT).await;
    refused(&mut readpoint, "SELECT * FROM owp_capture.follow()").await;
    assert_eq!(captures(&mut admin).await, (the_translators_capture(), false));
    drop((admin, robots, translator, readpoint));
    db.drop().await;
}

/// A database with the robots' migrations up to 0003 (their own outbox and capture triggers)
/// ends, after the set-up, with one capture, the translator's.
#[tokio::test]
async fn setup_leaves_a_database_migrated_before_with_one_capture() {
    let (admin, name) = fresh_database();
    admin.create_database_if_missing().await.unwrap();
    let earlier = tempfile::tempdir().unwrap();
    for migration in owp_robots::MIGRATOR.iter().filter(|m| m.version <= 3) {
        let file = format!("{:04}_{}.sql", migration.version, migration.description.replace(' ', "_"));
        std::fs::write(earlier.path().join(file), migration.sql.as_bytes()).unwrap();
    }
    let earlier = sqlx::migrate::Migrator::new(earlier.path()).await.unwrap();
    let pool = admin.pool("owp", 1).await.unwrap();
    sqlx::query("CREATE SCHEMA owp").execute(&pool).await.unwrap();
    earlier.run(&pool).await.unwrap();
    pool.close().await;
    owp::database::setup(&admin, &logins()).await.unwrap();
    let db = Database { admin, name };
    let mut admin = PgConnection::connect(&db.admin.database_url).await.unwrap();
    assert_eq!(captures(&mut admin).await, (the_translators_capture(), false));
    drop(admin);
    db.drop().await;
}

/// Set-up is run on every deploy, and by every instance at once: it must find its own work
/// done and not trip over a twin (roles are the whole server's, so other databases' set-ups
/// race on them too).
#[tokio::test]
async fn setup_runs_again_and_at_once() {
    let db = Database::set_up().await;
    let logins = logins();
    let (a, b, c) = tokio::join!(
        owp::database::setup(&db.admin, &logins),
        owp::database::setup(&db.admin, &logins),
        Database::set_up(),
    );
    a.unwrap();
    b.unwrap();
    c.drop().await;
    // Still in force.
    let mut readpoint = db.connect(roles::READPOINT).await;
    allowed(&mut readpoint, "SELECT 1 FROM owp.sessions").await;
    refused(&mut readpoint, "DELETE FROM owp.sessions").await;
    drop(readpoint);
    db.drop().await;
}

/// A database the services made before there were roles (everything owned by the master user)
/// is handed to the owners by the set-up, so that the owners' later migrations may alter it.
#[tokio::test]
async fn setup_adopts_a_database_made_before_the_roles() {
    let (admin, name) = fresh_database();
    // As every service did until now: migrate as the one user there was.
    owp_robots::app::prepare_database(&admin).await.unwrap().close().await;
    owp_auth::prepare_database(&admin).await.unwrap().close().await;
    owp::database::setup(&admin, &logins()).await.unwrap();
    let db = Database { admin, name };
    let mut admin = PgConnection::connect(&db.admin.database_url).await.unwrap();
    let strays: Vec<(String, String)> = sqlx::query_as(
        "SELECT c.relnamespace::regnamespace::text || '.' || c.relname, pg_get_userbyid(c.relowner)::text
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname IN ('owp', 'owp_auth') AND pg_get_userbyid(c.relowner) <> pg_get_userbyid(n.nspowner)",
    )
    .fetch_all(&mut admin)
    .await
    .unwrap();
    assert_eq!(strays, [], "objects not owned by their schema's owner");
    let mut robots = db.connect(roles::ROBOTS).await;
    allowed(&mut robots, "ALTER TABLE owp.users ADD COLUMN IF NOT EXISTS probe text").await;
    let mut readpoint = db.connect(roles::READPOINT).await;
    allowed(&mut readpoint, "SELECT 1 FROM owp.sessions").await;
    refused(&mut readpoint, "DELETE FROM owp.sessions").await;
    drop((robots, readpoint, admin));
    db.drop().await;
}
