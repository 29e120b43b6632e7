//! The rows a batch of facts leaves behind, folded in log order, and their set-based writes.

use std::collections::{BTreeMap, HashSet};

use owp_protocol::{
    Event,
    facts::{self, kind},
};
use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Debug, Default)]
struct ProfileRow {
    user_id: Option<Uuid>,
    first_name: Option<String>,
    last_name: Option<String>,
    phone: Option<String>,
    company_id: Option<String>,
    updated_at: Option<OffsetDateTime>,
}

#[derive(Debug)]
struct BusinessRow {
    owner: Uuid,
    name: String,
    created_at: Option<OffsetDateTime>,
    updated_at: OffsetDateTime,
}

#[derive(Debug)]
struct MessageRow {
    session_id: Option<Uuid>,
    status: &'static str,
    kind: String,
    text: String,
    occurred_at: OffsetDateTime,
}

/// Rows to write, keyed by primary key; a later fact about the same row folds into it.
#[derive(Debug, Default)]
pub struct Pending {
    users: Vec<(Uuid, String, OffsetDateTime, String)>,
    usernames: HashSet<String>,
    sessions_started: BTreeMap<Uuid, (Uuid, OffsetDateTime)>,
    sessions_ended: BTreeMap<Uuid, OffsetDateTime>,
    session_activity: BTreeMap<Uuid, OffsetDateTime>,
    login_failures: Vec<(Uuid, String, OffsetDateTime)>,
    profiles: BTreeMap<Uuid, ProfileRow>,
    businesses: BTreeMap<Uuid, BusinessRow>,
    messages: BTreeMap<Uuid, MessageRow>,
}

impl Pending {
    /// Folds one fact in. Unknown kinds are facts for someone else and leave no row here.
    pub fn fold(&mut self, event: &Event) -> owp_protocol::Result<()> {
        let at = event.occurred_at;
        // Only what the session was allowed to do counts as its use: a stream of refused
        // documents (a stolen, guessed or expired id being tried) must not keep it alive.
        let refused = crate::messages::outcome(event).is_some_and(|(status, _)| status != "accepted");
        if let Some(session) = event.session_id.filter(|_| !refused) {
            let entry = self.session_activity.entry(*session.as_uuid()).or_insert(at);
            *entry = (*entry).max(at);
        }
        match event.kind.as_str() {
            kind::USER_SIGNED_UP => {
                let user: facts::UserSignedUp = event.body_as()?;
                // The first sign-up of a name wins, in the batch as in the table.
                if self.usernames.insert(user.username.clone()) {
                    self.users.push((user.user_id, user.username, at, user.password_hash));
                }
            }
            kind::SESSION_STARTED => {
                let session: facts::SessionStarted = event.body_as()?;
                self.sessions_started.entry(session.session_id).or_insert((session.user_id, at));
                let entry = self.session_activity.entry(session.session_id).or_insert(at);
                *entry = (*entry).max(at);
            }
            kind::SESSION_ENDED => {
                let ended: facts::SessionEnded = event.body_as()?;
                let entry = self.sessions_ended.entry(ended.session_id).or_insert(at);
                *entry = (*entry).min(at);
            }
            kind::LOGIN_FAILED => {
                let failed: facts::LoginFailed = event.body_as()?;
                self.login_failures.push((*event.event_id.as_uuid(), failed.username, at));
            }
            kind::PROFILE_CREATED | kind::PROFILE_UPDATED => {
                let change: facts::ProfileChanged = event.body_as()?;
                let row = self.profiles.entry(change.profile_id).or_default();
                row.user_id = change.user_id.or(row.user_id);
                row.first_name = change.first_name.or(row.first_name.take());
                row.last_name = change.last_name.or(row.last_name.take());
                row.phone = change.phone.or(row.phone.take());
                row.company_id = change.company_id.or(row.company_id.take());
                row.updated_at = Some(row.updated_at.map_or(at, |t| t.max(at)));
            }
            kind::BUSINESS_CREATED | kind::BUSINESS_UPDATED => {
                let change: facts::BusinessChanged = event.body_as()?;
                let created = (event.kind == kind::BUSINESS_CREATED).then_some(at);
                let row = self.businesses.entry(change.business_id).or_insert(BusinessRow {
                    owner: change.owner_user_id,
                    name: change.name.clone(),
                    created_at: None,
                    updated_at: at,
                });
                row.name = change.name;
                row.created_at = row.created_at.or(created);
                row.updated_at = row.updated_at.max(at);
            }
            _ => {}
        }
        self.fold_message(event);
        Ok(())
    }

    /// The user-facing message of an outcome fact; a later outcome of a document replaces an
    /// earlier one (a retried document's success replaces its failure).
    pub fn fold_message(&mut self, event: &Event) {
        if let Some((status, text)) = crate::messages::outcome(event) {
            self.messages.insert(
                *event.document_id.as_uuid(),
                MessageRow {
                    session_id: event.session_id.map(|s| *s.as_uuid()),
                    status,
                    kind: event.kind.clone(),
                    text,
                    occurred_at: event.occurred_at,
                },
            );
        }
    }

    /// Writes everything with one statement per table.
    pub async fn flush(self, conn: &mut PgConnection) -> sqlx::Result<()> {
        if !self.users.is_empty() {
            let (ids, names, times, hashes) = unzip4(self.users);
            sqlx::query(
                "WITH new_users AS (
                     INSERT INTO users (user_id, username, created_at)
                     SELECT * FROM UNNEST($1::uuid[], $2::text[], $3::timestamptz[])
                     ON CONFLICT DO NOTHING RETURNING user_id)
                 INSERT INTO credentials (user_id, password_hash)
                 SELECT t.id, t.hash FROM UNNEST($1::uuid[], $4::text[]) AS t(id, hash)
                 JOIN new_users ON new_users.user_id = t.id",
            )
            .bind(&ids)
            .bind(&names)
            .bind(&times)
            .bind(&hashes)
            .execute(&mut *conn)
            .await?;
        }
        if !self.sessions_started.is_empty() {
            let (ids, rest): (Vec<Uuid>, Vec<(Uuid, OffsetDateTime)>) =
                self.sessions_started.into_iter().unzip();
            let (users, times): (Vec<Uuid>, Vec<OffsetDateTime>) = rest.into_iter().unzip();
            sqlx::query(
                "INSERT INTO sessions (session_id, user_id, started_at)
                 SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::timestamptz[])
                 ON CONFLICT (session_id) DO NOTHING",
            )
            .bind(&ids)
            .bind(&users)
            .bind(&times)
            .execute(&mut *conn)
            .await?;
        }
        if !self.session_activity.is_empty() {
            let (ids, times): (Vec<Uuid>, Vec<OffsetDateTime>) = self.session_activity.into_iter().unzip();
            sqlx::query(
                "INSERT INTO session_activity (session_id, last_active_at)
                 SELECT * FROM UNNEST($1::uuid[], $2::timestamptz[])
                 ON CONFLICT (session_id) DO UPDATE
                   SET last_active_at = GREATEST(session_activity.last_active_at, EXCLUDED.last_active_at)",
            )
            .bind(&ids)
            .bind(&times)
            .execute(&mut *conn)
            .await?;
        }
        if !self.sessions_ended.is_empty() {
            let (ids, times): (Vec<Uuid>, Vec<OffsetDateTime>) = self.sessions_ended.into_iter().unzip();
            sqlx::query(
                "UPDATE sessions SET ended_at = LEAST(COALESCE(sessions.ended_at, x.t), x.t)
                   FROM UNNEST($1::uuid[], $2::timestamptz[]) AS x(s, t) WHERE sessions.session_id = x.s",
            )
            .bind(&ids)
            .bind(&times)
            .execute(&mut *conn)
            .await?;
        }
        if !self.login_failures.is_empty() {
            let (ids, names, times) = unzip3(self.login_failures);
            sqlx::query(
                "INSERT INTO login_failures (event_id, username, failed_at)
                 SELECT * FROM UNNEST($1::uuid[], $2::text[], $3::timestamptz[]) ON CONFLICT DO NOTHING",
            )
            .bind(&ids)
            .bind(&names)
            .bind(&times)
            .execute(&mut *conn)
            .await?;
        }
        if !self.profiles.is_empty() {
            let mut columns = ProfileColumns::default();
            for (id, row) in self.profiles {
                columns.push(id, row);
            }
            sqlx::query(
                "INSERT INTO profiles (profile_id, user_id, first_name, last_name, phone, company_id, updated_at)
                 SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[],
                                      $7::timestamptz[])
                 ON CONFLICT (profile_id) DO UPDATE SET
                   user_id = COALESCE(EXCLUDED.user_id, profiles.user_id),
                   first_name = COALESCE(EXCLUDED.first_name, profiles.first_name),
                   last_name = COALESCE(EXCLUDED.last_name, profiles.last_name),
                   phone = COALESCE(EXCLUDED.phone, profiles.phone),
                   company_id = COALESCE(EXCLUDED.company_id, profiles.company_id),
                   updated_at = GREATEST(EXCLUDED.updated_at, profiles.updated_at)",
            )
            .bind(&columns.ids)
            .bind(&columns.users)
            .bind(&columns.first)
            .bind(&columns.last)
            .bind(&columns.phone)
            .bind(&columns.company)
            .bind(&columns.updated)
            .execute(&mut *conn)
            .await?;
        }
        if !self.businesses.is_empty() {
            let mut ids = Vec::new();
            let mut owners = Vec::new();
            let mut names = Vec::new();
            let mut created = Vec::new();
            let mut updated = Vec::new();
            for (id, row) in self.businesses {
                ids.push(id);
                owners.push(row.owner);
                names.push(row.name);
                created.push(row.created_at);
                updated.push(row.updated_at);
            }
            // A row created in this batch is inserted; one only renamed updates the stored row.
            // Each statement runs only when it has rows: a statement that changes nothing still
            // fires the change-capture trigger.
            if created.iter().any(Option::is_some) {
                sqlx::query(
                    "INSERT INTO businesses (business_id, owner_user_id, name, created_at, updated_at)
                     SELECT id, owner, name, created, updated
                       FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::timestamptz[], $5::timestamptz[])
                            AS x(id, owner, name, created, updated)
                      WHERE created IS NOT NULL
                     ON CONFLICT (business_id) DO UPDATE SET
                       name = CASE WHEN EXCLUDED.updated_at >= businesses.updated_at THEN EXCLUDED.name ELSE businesses.name END,
                       updated_at = GREATEST(EXCLUDED.updated_at, businesses.updated_at)",
                )
                .bind(&ids)
                .bind(&owners)
                .bind(&names)
                .bind(&created)
                .bind(&updated)
                .execute(&mut *conn)
                .await?;
            }
            if created.iter().any(Option::is_none) {
                sqlx::query(
                    "UPDATE businesses SET
                       name = CASE WHEN x.updated >= businesses.updated_at THEN x.name ELSE businesses.name END,
                       updated_at = GREATEST(x.updated, businesses.updated_at)
                      FROM UNNEST($1::uuid[], $2::text[], $3::timestamptz[], $4::timestamptz[]) AS x(id, name, created, updated)
                     WHERE businesses.business_id = x.id AND x.created IS NULL",
                )
                .bind(&ids)
                .bind(&names)
                .bind(&created)
                .bind(&updated)
                .execute(&mut *conn)
                .await?;
            }
        }
        if !self.messages.is_empty() {
            let mut ids = Vec::new();
            let mut sessions = Vec::new();
            let mut statuses = Vec::new();
            let mut kinds = Vec::new();
            let mut texts = Vec::new();
            let mut times = Vec::new();
            for (id, row) in self.messages {
                ids.push(id);
                sessions.push(row.session_id);
                statuses.push(row.status.to_owned());
                kinds.push(row.kind);
                texts.push(row.text);
                times.push(row.occurred_at);
            }
            sqlx::query(
                "INSERT INTO messages (document_id, session_id, status, kind, text, occurred_at)
                 SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::timestamptz[])
                 ON CONFLICT (document_id) DO UPDATE SET
                   session_id = EXCLUDED.session_id, status = EXCLUDED.status, kind = EXCLUDED.kind,
                   text = EXCLUDED.text, occurred_at = EXCLUDED.occurred_at",
            )
            .bind(&ids)
            .bind(&sessions)
            .bind(&statuses)
            .bind(&kinds)
            .bind(&texts)
            .bind(&times)
            .execute(&mut *conn)
            .await?;
        }
        Ok(())
    }
}

#[derive(Default)]
struct ProfileColumns {
    ids: Vec<Uuid>,
    users: Vec<Option<Uuid>>,
    first: Vec<Option<String>>,
    last: Vec<Option<String>>,
    phone: Vec<Option<String>>,
    company: Vec<Option<String>>,
    updated: Vec<OffsetDateTime>,
}

impl ProfileColumns {
    fn push(&mut self, id: Uuid, row: ProfileRow) {
        self.ids.push(id);
        self.users.push(row.user_id);
        self.first.push(row.first_name);
        self.last.push(row.last_name);
        self.phone.push(row.phone);
        self.company.push(row.company_id);
        self.updated.push(row.updated_at.unwrap_or(OffsetDateTime::UNIX_EPOCH));
    }
}

fn unzip3<A, B, C>(rows: Vec<(A, B, C)>) -> (Vec<A>, Vec<B>, Vec<C>) {
    let mut out =
        (Vec::with_capacity(rows.len()), Vec::with_capacity(rows.len()), Vec::with_capacity(rows.len()));
    for (a, b, c) in rows {
        out.0.push(a);
        out.1.push(b);
        out.2.push(c);
    }
    out
}

fn unzip4<A, B, C, D>(rows: Vec<(A, B, C, D)>) -> (Vec<A>, Vec<B>, Vec<C>, Vec<D>) {
    let mut out = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (a, b, c, d) in rows {
        out.0.push(a);
        out.1.push(b);
        out.2.push(c);
        out.3.push(d);
    }
    out
}

#[cfg(test)]
mod tests {
    use owp_protocol::{Command, DocumentId, ItemType, SessionId};
    use serde_json::json;

    use super::*;

    fn outcome(session: SessionId, kind: &str, at: i64) -> Event {
        let command = Command {
            document_id: DocumentId::new_random(),
            item_type: ItemType::parse("business").unwrap(),
            session_id: Some(session),
            received_at: OffsetDateTime::from_unix_timestamp(at).unwrap(),
            body: serde_json::Map::new(),
        };
        Event::caused_by(
            &command,
            kind,
            json!({"reason": "no", "profile_id": uuid::Uuid::new_v4()}),
            OffsetDateTime::from_unix_timestamp(at).unwrap(),
        )
    }

    #[test]
    fn only_what_a_session_was_allowed_to_do_counts_as_its_use() {
        let session = SessionId::new_random();
        let mut pending = Pending::default();
        pending.fold(&outcome(session, kind::BUSINESS_REJECTED, 100)).unwrap();
        pending.fold(&outcome(session, kind::DOCUMENT_FAILED, 200)).unwrap();
        assert!(pending.session_activity.is_empty(), "refused documents must not keep a session alive");
        pending.fold(&outcome(session, kind::PROFILE_UPDATED, 50)).unwrap();
        pending.fold(&outcome(session, kind::BUSINESS_REJECTED, 300)).unwrap();
        let at = pending.session_activity[session.as_uuid()];
        assert_eq!(at, OffsetDateTime::from_unix_timestamp(50).unwrap());
    }
}
