//! Invitations by email: a grant to an address nobody had is claimed only by an account whose
//! address is verified — never just by registering with it. The owner confirms the account,
//! or (on a server with mail) the account follows the link mailed to the address; a grant by
//! email to an address an account already has applies at once. Each claim is audited.

use chrono::TimeDelta;
use dpipe_client::{AuditQuery, ErrorKind};
use dpipe_core::role::Access;
use dpipe_core::wire::{GrantStatus, GrantView};
use serde_json::{Value, json};

use super::{expect_err, pipe_names, s3_pipe, snapshot};
use crate::harness::{Harness, ServerHarness};
use crate::services::smtp::link_in;

/// The grant on `pipe` whose email is `email`, as the owner lists it.
fn listed(owner: &dyn dpipe_client::RepoApi, pipe: &str, email: &str) -> GrantView {
    owner
        .list_grants(pipe)
        .unwrap()
        .into_iter()
        .find(|g| g.email.as_deref() == Some(email))
        .unwrap_or_else(|| panic!("no grant to {email} on {pipe}"))
}

/// The `invitation.claim` events of a pipe's trail, as (who, grantee, outcome).
fn claims(owner: &dyn dpipe_client::RepoApi, pipe: &str) -> Vec<(String, Option<String>, String)> {
    let query = AuditQuery {
        action: Some("invitation.claim".to_string()),
        ..AuditQuery::default()
    };
    owner
        .audit(pipe, &query)
        .unwrap()
        .into_iter()
        .map(|e| (e.who, e.grantee, e.outcome))
        .collect()
}

/// Whoever registers with an invited email first gets nothing until the owner confirms.
pub fn invitation_not_claimed_by_registering(h: &dyn Harness) {
    let owner = h.user("owner");
    owner.create_pipe(&s3_pipe("invite")).unwrap();
    let grant = owner
        .grant(
            "invite",
            &json!({"email": "Carol@Example.com", "role": "read"}),
        )
        .unwrap();
    assert_eq!(grant.status, GrantStatus::Invited);
    assert!(grant.pending);
    assert_eq!(grant.email.as_deref(), Some("carol@example.com"));
    assert_eq!(grant.username, None);

    // Someone registers with that address: the invitation waits for the owner.
    let carol = h.user("carol");
    assert!(pipe_names(carol.api.as_ref()).is_empty());
    expect_err(carol.get_pipe("invite"), ErrorKind::Forbidden, "permission");
    expect_err(
        carol.credentials("invite", Access::Read),
        ErrorKind::Forbidden,
        "permission",
    );
    let waiting = listed(owner.api.as_ref(), "invite", "carol@example.com");
    assert_eq!(waiting.status, GrantStatus::AwaitingConfirmation);
    assert!(waiting.pending);
    assert_eq!(
        waiting.username.as_deref(),
        Some("carol"),
        "the owner sees who registered"
    );
    assert!(claims(owner.api.as_ref(), "invite").is_empty());
}

/// The owner confirms the account: it gets the invitation's role, and the claim is audited.
pub fn owner_confirms_the_invitation(h: &dyn Harness) {
    let owner = h.user("owner");
    owner.create_pipe(&s3_pipe("invite")).unwrap();
    owner.create_pipe(&s3_pipe("other")).unwrap();
    for pipe in ["invite", "other"] {
        owner
            .grant(
                pipe,
                &json!({"email": "carol@example.com", "role": "write"}),
            )
            .unwrap();
    }
    let carol = h.user("carol");
    let confirmed = owner
        .grant(
            "invite",
            &json!({"email": "carol@example.com", "role": "confirm"}),
        )
        .unwrap();
    assert_eq!(confirmed.username.as_deref(), Some("carol"));
    assert_eq!(confirmed.role, "write");
    assert_eq!(confirmed.status, GrantStatus::Active);
    assert!(!confirmed.pending);
    assert_eq!(
        pipe_names(carol.api.as_ref()),
        ["invite"],
        "only the confirmed pipe's invitation is claimed"
    );
    assert!(carol.credentials("invite", Access::Write).is_ok());
    assert_eq!(
        listed(owner.api.as_ref(), "other", "carol@example.com").status,
        GrantStatus::AwaitingConfirmation
    );
    assert_eq!(
        claims(owner.api.as_ref(), "invite"),
        [(
            "owner".to_string(),
            Some("carol@example.com".to_string()),
            "allowed".to_string()
        )]
    );
    // The claimed invitation is an ordinary grant now: one entry, revoked by username.
    assert_eq!(owner.list_grants("invite").unwrap().len(), 1);
    owner
        .grant("invite", &json!({"username": "carol", "role": "revoke"}))
        .unwrap();
    assert!(pipe_names(carol.api.as_ref()).is_empty());
}

/// A grant by email to an address an account has applies at once (protocol §4.11), and the
/// reply names the account; a grant to the user replaces an invitation still waiting.
pub fn email_grant_to_an_account_applies_at_once(h: &dyn Harness) {
    let owner = h.user("owner");
    let dave = h.user("dave");
    owner.create_pipe(&s3_pipe("shared")).unwrap();
    let grant = owner
        .grant(
            "shared",
            &json!({"email": "DAVE@example.com", "role": "read"}),
        )
        .unwrap();
    assert_eq!(grant.username.as_deref(), Some("dave"));
    assert_eq!(grant.status, GrantStatus::Active);
    assert!(!grant.pending);
    assert_eq!(pipe_names(dave.api.as_ref()), ["shared"]);

    owner.create_pipe(&s3_pipe("later")).unwrap();
    owner
        .grant(
            "later",
            &json!({"email": "erin@example.com", "role": "read"}),
        )
        .unwrap();
    let erin = h.user("erin");
    owner
        .grant("later", &json!({"username": "erin", "role": "write"}))
        .unwrap();
    let grants = owner.list_grants("later").unwrap();
    assert_eq!(grants.len(), 1, "{grants:?}");
    assert_eq!(grants[0].status, GrantStatus::Active);
    assert_eq!(erin.get_pipe("later").unwrap().role, "write");
}

/// Wrong confirmations are refused with their reason and change nothing.
pub fn wrong_confirmations_change_nothing(h: &dyn Harness) {
    let owner = h.user("owner");
    let reader = h.user("reader");
    h.user("carol");
    owner.create_pipe(&s3_pipe("guarded")).unwrap();
    owner
        .grant("guarded", &json!({"username": "reader", "role": "read"}))
        .unwrap();
    owner
        .grant(
            "guarded",
            &json!({"email": "carol@example.com", "role": "read"}),
        )
        .unwrap();
    owner
        .grant(
            "guarded",
            &json!({"email": "nobody@example.com", "role": "read"}),
        )
        .unwrap();
    // carol registered before this invitation, so hers applied at once; make one that waits.
    owner
        .grant(
            "guarded",
            &json!({"email": "frank@example.com", "role": "read"}),
        )
        .unwrap();
    h.user("frank");
    let before = snapshot(owner.api.as_ref());
    let confirm = |email: &str| json!({"email": email, "role": "confirm"});
    expect_err(
        reader.grant("guarded", &confirm("frank@example.com")),
        ErrorKind::Forbidden,
        "permission",
    );
    expect_err(
        owner.grant("guarded", &confirm("stranger@example.com")),
        ErrorKind::Invalid,
        "No invitation to stranger@example.com is waiting on pipe guarded.",
    );
    expect_err(
        owner.grant("guarded", &confirm("carol@example.com")),
        ErrorKind::Invalid,
        "No invitation to carol@example.com is waiting",
    );
    expect_err(
        owner.grant("guarded", &confirm("nobody@example.com")),
        ErrorKind::Invalid,
        "Nobody has registered with nobody@example.com yet",
    );
    expect_err(
        owner.grant("guarded", &confirm("not-an-email")),
        ErrorKind::Invalid,
        "valid email",
    );
    expect_err(
        owner.grant("guarded", &json!({"role": "confirm"})),
        ErrorKind::Invalid,
        "required",
    );
    expect_err(
        owner.grant("guarded", &json!({"username": "frank", "role": "confirm"})),
        ErrorKind::Invalid,
        "confirmed by its email",
    );
    expect_err(
        owner.grant("missing", &confirm("frank@example.com")),
        ErrorKind::NotFound,
        "Not found",
    );
    assert_eq!(snapshot(owner.api.as_ref()), before);
    let frank = listed(owner.api.as_ref(), "guarded", "frank@example.com");
    assert_eq!(frank.status, GrantStatus::AwaitingConfirmation);
}

/// The link mailed at registration claims every invitation to the address, once.
pub fn mailed_link_claims_the_invitations(h: &ServerHarness) {
    let smtp = h.smtp.as_ref().expect("a harness with SMTP");
    let owner = h.user("owner");
    owner.create_pipe(&s3_pipe("one")).unwrap();
    owner.create_pipe(&s3_pipe("two")).unwrap();
    for pipe in ["one", "two"] {
        owner
            .grant(pipe, &json!({"email": "carol@example.com", "role": "read"}))
            .unwrap();
    }
    assert!(smtp.mails().is_empty(), "nothing is mailed at grant time");
    h.user("bob");
    assert!(smtp.mails().is_empty(), "no invitation, no mail");
    let carol = h.user("carol");
    let mails = smtp.mails_to("carol@example.com");
    assert_eq!(mails.len(), 1, "{:?}", smtp.mails());
    let link = link_in(&mails[0]).expect("a link in the mail");
    assert!(link.starts_with(&h.server.url), "{link}");
    assert!(mails[0].contains("carol"), "the mail names the account");
    assert!(pipe_names(carol.api.as_ref()).is_empty());

    let target = &link[h.server.url.len()..];
    let (status, body) = h.server.get(target).unwrap();
    assert_eq!(status, 200, "{body}");
    let reply: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        reply,
        json!({"username": "carol", "email": "carol@example.com", "pipes": ["one", "two"]})
    );
    assert_eq!(pipe_names(carol.api.as_ref()), ["one", "two"]);
    assert_eq!(
        claims(owner.api.as_ref(), "two"),
        [(
            "carol".to_string(),
            Some("carol@example.com".to_string()),
            "allowed".to_string()
        )]
    );

    // Used: refused, and nothing changes.
    let (status, body) = h.server.get(target).unwrap();
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("unknown or was used already"), "{body}");
    assert_eq!(pipe_names(carol.api.as_ref()), ["one", "two"]);
}

/// Expired, wrong and missing link tokens are refused and claim nothing.
pub fn wrong_or_expired_links_are_refused(h: &ServerHarness) {
    let smtp = h.smtp.as_ref().expect("a harness with SMTP");
    let owner = h.user("owner");
    owner.create_pipe(&s3_pipe("late")).unwrap();
    owner
        .grant(
            "late",
            &json!({"email": "carol@example.com", "role": "read"}),
        )
        .unwrap();
    let carol = h.user("carol");
    let link = link_in(&smtp.mails_to("carol@example.com")[0]).expect("a link");
    let target = &link[h.server.url.len()..];
    let path = target.split('?').next().unwrap();
    for (wrong, needle) in [
        (
            format!("{path}?token=0123456789abcdef0123456789abcdef"),
            "unknown or was used already",
        ),
        (format!("{path}?token="), "required"),
        (path.to_string(), "required"),
        (format!("{target}x"), "unknown or was used already"),
    ] {
        let (status, body) = h.server.get(&wrong).unwrap();
        assert_eq!(status, 400, "{wrong}: {body}");
        assert!(body.contains(needle), "{wrong}: {body}");
    }
    assert!(pipe_names(carol.api.as_ref()).is_empty());

    h.advance(TimeDelta::days(8));
    let (status, body) = h.server.get(target).unwrap();
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("expired"), "{body}");
    assert!(pipe_names(carol.api.as_ref()).is_empty());
    assert_eq!(
        listed(owner.api.as_ref(), "late", "carol@example.com").status,
        GrantStatus::AwaitingConfirmation,
        "the owner can still confirm"
    );
}
