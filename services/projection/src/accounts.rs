//! The accounts auth reads: a user by name, the password hash a login checks, and the state of
//! a session. Auth writes none of these; it appends facts and waits until the projector has
//! applied them, which is why most lookups answer "is it there yet".

use sqlx::PgPool;
use uuid::Uuid;

/// Auth's view of the projection, over a pool whose search path is the projection schema.
#[derive(Debug, Clone)]
pub struct Accounts {
    pool: PgPool,
}

/// What a login checks a password against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Login {
    pub user_id: Uuid,
    pub password_hash: String,
}

impl Accounts {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    /// Answers once the tables auth reads exist and this role may read them.
    pub async fn ready(&self) -> sqlx::Result<()> {
        sqlx::query("SELECT 1 FROM users LIMIT 1").execute(&self.pool).await.map(drop)
    }

    pub async fn username_taken(&self, username: &str) -> sqlx::Result<bool> {
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM users WHERE username = $1)")
            .bind(username)
            .fetch_one(&self.pool)
            .await
    }

    /// The user who holds `username`, once the sign-up is applied.
    pub async fn user_id(&self, username: &str) -> sqlx::Result<Option<Uuid>> {
        sqlx::query_scalar("SELECT user_id FROM users WHERE username = $1")
            .bind(username)
            .fetch_optional(&self.pool)
            .await
    }

    pub async fn login(&self, username: &str) -> sqlx::Result<Option<Login>> {
        let row: Option<(Uuid, String)> = sqlx::query_as(
            "SELECT u.user_id, c.password_hash FROM users u JOIN credentials c USING (user_id) WHERE u.username = $1",
        )
        .bind(username)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|(user_id, password_hash)| Login { user_id, password_hash }))
    }

    /// Whether the session has started (its login is applied), ended or not.
    pub async fn session_started(&self, session_id: Uuid) -> sqlx::Result<bool> {
        self.session_exists(session_id, "").await
    }

    /// Whether the session has started and not ended.
    pub async fn session_open(&self, session_id: Uuid) -> sqlx::Result<bool> {
        self.session_exists(session_id, " AND ended_at IS NULL").await
    }

    /// Whether the session has ended (its logout is applied).
    pub async fn session_ended(&self, session_id: Uuid) -> sqlx::Result<bool> {
        self.session_exists(session_id, " AND ended_at IS NOT NULL").await
    }

    async fn session_exists(&self, session_id: Uuid, condition: &'static str) -> sqlx::Result<bool> {
        sqlx::query_scalar(&format!(
            "SELECT EXISTS (SELECT 1 FROM sessions WHERE session_id = $1{condition})"
        ))
        .bind(session_id)
        .fetch_one(&self.pool)
        .await
    }
}
