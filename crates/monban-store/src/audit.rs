use crate::schema::audit_events;
use crate::{new_id, Store, StoreError};
use diesel::prelude::*;
use monban_core::UnixSeconds;

/// Something that happened to a member or a client, kept for the society's records.
/// Never carries a secret.
#[derive(Debug, Clone, Default)]
pub struct AuditEvent<'a> {
    pub realm: &'a str,
    pub kind: &'a str,
    pub user_pk: Option<&'a str>,
    pub client_id: Option<&'a str>,
    pub ip: Option<&'a str>,
    pub detail: Option<String>,
}

#[derive(Insertable)]
#[diesel(table_name = audit_events)]
struct Row<'a> {
    id: String,
    realm: &'a str,
    at: i64,
    kind: &'a str,
    user_pk: Option<&'a str>,
    client_id: Option<&'a str>,
    ip: Option<&'a str>,
    detail: Option<&'a str>,
}

impl Store {
    pub fn record_audit_event(
        &self,
        event: &AuditEvent<'_>,
        now: UnixSeconds,
    ) -> Result<(), StoreError> {
        let row = Row {
            id: new_id(),
            realm: event.realm,
            at: now,
            kind: event.kind,
            user_pk: event.user_pk,
            client_id: event.client_id,
            ip: event.ip,
            detail: event.detail.as_deref(),
        };
        diesel::insert_into(audit_events::table)
            .values(&row)
            .execute(&mut self.conn()?)?;
        Ok(())
    }

    /// The kinds of a realm's events, oldest first (for tests and the admin CLI).
    pub fn audit_event_kinds(
        &self,
        realm: &str,
    ) -> Result<Vec<(String, Option<String>)>, StoreError> {
        Ok(audit_events::table
            .filter(audit_events::realm.eq(realm))
            .order(audit_events::at.asc())
            .select((audit_events::kind, audit_events::user_pk))
            .load(&mut self.conn()?)?)
    }
}
