//! What the user is told about each document: status and text per outcome kind, in one place.

use owp_protocol::{
    Event,
    facts::{self, kind},
};

/// `(status, text)` of a document's outcome fact; `None` for facts that are not outcomes.
pub fn outcome(event: &Event) -> Option<(&'static str, String)> {
    let reason = || event.body_as::<facts::Rejected>().map(|r| r.reason).unwrap_or_default();
    Some(match event.kind.as_str() {
        kind::BUSINESS_CREATED => ("accepted", "Your new business has been created!".to_owned()),
        kind::BUSINESS_UPDATED => ("accepted", "Your business has been updated.".to_owned()),
        kind::PROFILE_CREATED => ("accepted", "Your profile has been created.".to_owned()),
        kind::PROFILE_UPDATED => ("accepted", "Your profile has been updated.".to_owned()),
        kind::SESSION_ENDED => ("accepted", "You have been logged out.".to_owned()),
        kind::BUSINESS_REJECTED => ("rejected", format!("We could not save your business: {}.", reason())),
        kind::PROFILE_REJECTED => ("rejected", format!("We could not save your profile: {}.", reason())),
        kind::LOGOUT_REJECTED => ("rejected", format!("We could not log you out: {}.", reason())),
        kind::DOCUMENT_FAILED => (
            "failed",
            "We could not process your document; an operator has been told and will retry it.".to_owned(),
        ),
        _ => return None,
    })
}
