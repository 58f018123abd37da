//! Grants and effective roles (protocol §6): the protocol's own sequence, the rights matrix,
//! inheritance downwards only, expiry by the registry's clock, public access, and wrong grant
//! requests. Invitations by email are in `invitations`.

use dpipe_client::ErrorKind;
use dpipe_core::role::Access;
use dpipe_core::wire::UpdateMode;
use serde_json::json;

use super::{child_pipe, expect_err, pipe_names, s3_pipe, snapshot};
use crate::harness::Harness;

/// The exact sequence of `test_permissions` in d6tpipe's test suite.
pub fn permission_sequence_of_the_protocol(h: &dyn Harness) {
    let u1 = h.user("u1");
    let u2 = h.user("u2");
    u1.create_pipe(&s3_pipe("par")).unwrap();
    u1.create_pipe(&child_pipe("chi", "par", "vendorX"))
        .unwrap();
    let n = || u2.list_pipes().unwrap().len();
    let grant = |pipe: &str, body: serde_json::Value| u1.grant(pipe, &body).unwrap();
    let past = (h.today() - chrono::Days::new(2))
        .format("%Y-%m-%d")
        .to_string();

    assert_eq!(n(), 0);
    expect_err(u2.get_pipe("par"), ErrorKind::Forbidden, "permission");

    grant("par", json!({"username": "u2", "role": "read"}));
    assert_eq!(n(), 2);
    assert_eq!(u2.get_pipe("par").unwrap().role, "read");
    assert!(!u2.credentials("par", Access::Read).unwrap().is_empty());
    expect_err(
        u2.credentials("par", Access::Write),
        ErrorKind::Forbidden,
        "permission",
    );
    expect_err(
        u2.update_pipe("par", &json!({"bad": "request"}), UpdateMode::Full),
        ErrorKind::Forbidden,
        "permission",
    );

    grant("par", json!({"username": "u2", "role": "revoke"}));
    assert_eq!(n(), 0);
    expect_err(u2.get_pipe("par"), ErrorKind::Forbidden, "permission");

    grant("chi", json!({"username": "u2", "role": "read"}));
    assert_eq!(n(), 1);
    assert_eq!(u2.get_pipe("chi").unwrap().role, "read");
    assert!(!u2.credentials("chi", Access::Read).unwrap().is_empty());
    expect_err(
        u2.credentials("chi", Access::Write),
        ErrorKind::Forbidden,
        "permission",
    );
    expect_err(
        u2.update_pipe("chi", &json!({"bad": "request"}), UpdateMode::Full),
        ErrorKind::Forbidden,
        "permission",
    );
    expect_err(u2.get_pipe("par"), ErrorKind::Forbidden, "permission");
    expect_err(
        u2.credentials("par", Access::Read),
        ErrorKind::Forbidden,
        "permission",
    );

    grant("chi", json!({"username": "u2", "role": "revoke"}));
    assert_eq!(n(), 0);

    grant(
        "par",
        json!({"email": u2.email, "role": "write", "expiration_date": past}),
    );
    assert_eq!(n(), 0);

    grant("par", json!({"email": u2.email, "role": "write"}));
    assert_eq!(n(), 2);
    assert_eq!(u2.get_pipe("par").unwrap().role, "write");
    assert!(!u2.credentials("par", Access::Write).unwrap().is_empty());
    expect_err(
        u2.update_pipe("par", &json!({"bad": "request"}), UpdateMode::Full),
        ErrorKind::Forbidden,
        "permission",
    );

    grant("par", json!({"email": u2.email, "role": "revoke"}));
    assert_eq!(n(), 0);

    grant("chi", json!({"email": u2.email, "role": "write"}));
    assert_eq!(n(), 1);
    assert_eq!(u2.get_pipe("chi").unwrap().role, "write");
    assert!(!u2.credentials("chi", Access::Write).unwrap().is_empty());
    expect_err(
        u2.update_pipe("chi", &json!({"bad": "request"}), UpdateMode::Full),
        ErrorKind::Forbidden,
        "permission",
    );

    grant("chi", json!({"username": "u2", "role": "revoke"}));
    assert_eq!(n(), 0);

    grant("par", json!({"username": "public", "role": "read"}));
    assert_eq!(n(), 2);
    assert_eq!(u2.get_pipe("par").unwrap().role, "read");

    grant("par", json!({"username": "public", "role": "write"}));
    assert_eq!(n(), 0);
    expect_err(u2.get_pipe("par"), ErrorKind::Forbidden, "permission");

    grant("par", json!({"username": "public", "role": "revoke"}));
    assert_eq!(n(), 0);
}

/// What each role may do (protocol §6 rights matrix).
pub fn rights_matrix(h: &dyn Harness) {
    let owner = h.user("owner");
    owner.create_pipe(&s3_pipe("data")).unwrap();
    let reader = h.user("reader");
    let writer = h.user("writer");
    let admin = h.user("admin");
    for (name, role) in [("reader", "read"), ("writer", "write"), ("admin", "admin")] {
        owner
            .grant("data", &json!({"username": name, "role": role}))
            .unwrap();
    }
    for (user, reported) in [(&reader, "read"), (&writer, "write"), (&admin, "write")] {
        assert_eq!(
            user.get_pipe("data").unwrap().role,
            reported,
            "{}",
            user.username
        );
        assert_eq!(pipe_names(user.api.as_ref()), ["data"]);
        assert!(user.credentials("data", Access::Read).is_ok());
    }
    expect_err(
        reader.credentials("data", Access::Write),
        ErrorKind::Forbidden,
        "permission",
    );
    assert!(writer.credentials("data", Access::Write).is_ok());
    assert!(admin.credentials("data", Access::Write).is_ok());
    let patch = json!({"options": {"dir": "by-admin"}});
    for user in [&reader, &writer] {
        expect_err(
            user.update_pipe("data", &patch, UpdateMode::Partial),
            ErrorKind::Forbidden,
            "permission",
        );
        expect_err(
            user.grant("data", &json!({"username": "public", "role": "read"})),
            ErrorKind::Forbidden,
            "permission",
        );
        expect_err(user.list_grants("data"), ErrorKind::Forbidden, "permission");
        expect_err(user.delete_pipe("data"), ErrorKind::Forbidden, "permission");
        expect_err(
            user.create_pipe(&child_pipe("kid", "data", "k")),
            ErrorKind::Forbidden,
            "permission",
        );
    }
    assert_eq!(
        admin
            .update_pipe("data", &patch, UpdateMode::Partial)
            .unwrap()
            .options["dir"],
        "by-admin"
    );
    assert_eq!(admin.list_grants("data").unwrap().len(), 3);
    expect_err(
        admin.delete_pipe("data"),
        ErrorKind::Forbidden,
        "permission",
    );
    let kid = admin.create_pipe(&child_pipe("kid", "data", "k")).unwrap();
    assert_eq!(kid.owner, "admin");
    // The root's owner owns every descendant, whoever created it.
    assert_eq!(owner.get_pipe("kid").unwrap().role, "write");
    owner.delete_pipe("kid").unwrap();
    owner.delete_pipe("data").unwrap();
}

/// A grant on a parent reaches every descendant; a grant on a child never reaches up.
pub fn grants_reach_descendants_only(h: &dyn Harness) {
    let owner = h.user("owner");
    let guest = h.user("guest");
    owner.create_pipe(&s3_pipe("a")).unwrap();
    owner.create_pipe(&child_pipe("a-b", "a", "b")).unwrap();
    owner.create_pipe(&child_pipe("a-b-c", "a-b", "c")).unwrap();
    owner
        .grant("a-b", &json!({"username": "guest", "role": "write"}))
        .unwrap();
    assert_eq!(pipe_names(guest.api.as_ref()), ["a-b", "a-b-c"]);
    assert_eq!(guest.get_pipe("a-b-c").unwrap().role, "write");
    expect_err(guest.get_pipe("a"), ErrorKind::Forbidden, "permission");
    expect_err(
        guest.credentials("a", Access::Read),
        ErrorKind::Forbidden,
        "permission",
    );
    owner
        .grant("a", &json!({"username": "guest", "role": "read"}))
        .unwrap();
    assert_eq!(guest.get_pipe("a").unwrap().role, "read");
    assert_eq!(
        guest.get_pipe("a-b-c").unwrap().role,
        "write",
        "the highest live grant counts"
    );
}

/// `expiration_date` is the last day of access, judged by the registry's clock.
pub fn expiration_follows_the_clock(h: &dyn Harness) {
    let owner = h.user("owner");
    let temp = h.user("temp");
    owner.create_pipe(&s3_pipe("timed")).unwrap();
    let today = h.today();
    let last_day = (today + chrono::Days::new(1))
        .format("%Y-%m-%d")
        .to_string();
    let stored = owner
        .grant(
            "timed",
            &json!({"username": "temp", "role": "read", "expiration_date": last_day}),
        )
        .unwrap();
    assert_eq!(stored.expiration_date.as_deref(), Some(last_day.as_str()));
    assert!(temp.get_pipe("timed").is_ok());
    h.set_today(today + chrono::Days::new(1));
    assert!(
        temp.get_pipe("timed").is_ok(),
        "still valid on its last day"
    );
    h.set_today(today + chrono::Days::new(2));
    expect_err(temp.get_pipe("timed"), ErrorKind::Forbidden, "permission");
    assert!(pipe_names(temp.api.as_ref()).is_empty());
    owner
        .grant("timed", &json!({"username": "temp", "role": "read"}))
        .unwrap();
    assert!(
        temp.get_pipe("timed").is_ok(),
        "a new grant without a date replaces the expired one"
    );
}

/// Wrong grant requests are refused with their error text and change nothing.
pub fn wrong_grants_change_nothing(h: &dyn Harness) {
    let owner = h.user("owner");
    h.user("friend");
    owner.create_pipe(&s3_pipe("guarded")).unwrap();
    owner
        .grant("guarded", &json!({"username": "friend", "role": "read"}))
        .unwrap();
    let before = snapshot(owner.api.as_ref());
    let cases = [
        (
            json!({"username": "nobody", "role": "read"}),
            "does not exist",
        ),
        (
            json!({"username": "friend", "email": "friend@example.com", "role": "read"}),
            "exactly one",
        ),
        (json!({"role": "read"}), "exactly one"),
        (json!({"username": "friend"}), "required"),
        (
            json!({"username": "friend", "role": "owner"}),
            "not a valid choice",
        ),
        (
            json!({"username": "friend", "role": "read", "expiration_date": "31/12/2026"}),
            "YYYY-MM-DD",
        ),
        (
            json!({"username": "friend", "role": "read", "expiration_date": 20261231}),
            "Not a valid string",
        ),
        (
            json!({"email": "not-an-email", "role": "read"}),
            "valid email",
        ),
        (json!("read"), "dictionary"),
    ];
    for (body, needle) in cases {
        expect_err(owner.grant("guarded", &body), ErrorKind::Invalid, needle);
    }
    expect_err(
        owner.grant("missing", &json!({"username": "friend", "role": "read"})),
        ErrorKind::NotFound,
        "Not found",
    );
    expect_err(
        owner.list_grants("missing"),
        ErrorKind::NotFound,
        "Not found",
    );
    assert_eq!(snapshot(owner.api.as_ref()), before);
    let revoked = owner
        .grant("guarded", &json!({"username": "owner", "role": "revoke"}))
        .unwrap();
    assert_eq!(
        revoked.role, "revoke",
        "revoking a grant that does not exist is a no-op"
    );
    assert_eq!(snapshot(owner.api.as_ref()), before);
}

/// `public` read opens a pipe and its children to everyone (anonymous callers included);
/// `public` write is accepted and opens nothing.
pub fn public_grants(h: &dyn Harness) {
    let owner = h.user("owner");
    let stranger = h.user("stranger");
    owner.create_pipe(&s3_pipe("open")).unwrap();
    owner
        .create_pipe(&child_pipe("open-kid", "open", "k"))
        .unwrap();
    owner.create_pipe(&s3_pipe("closed")).unwrap();
    owner
        .grant("open", &json!({"username": "public", "role": "read"}))
        .unwrap();
    assert_eq!(pipe_names(stranger.api.as_ref()), ["open", "open-kid"]);
    assert_eq!(stranger.get_pipe("open-kid").unwrap().role, "read");
    expect_err(
        stranger.credentials("open", Access::Write),
        ErrorKind::Forbidden,
        "permission",
    );
    if let Some(anonymous) = h.anonymous() {
        assert_eq!(pipe_names(anonymous.as_ref()), ["open", "open-kid"]);
        assert_eq!(anonymous.get_pipe("open").unwrap().role, "read");
        assert!(anonymous.credentials("open", Access::Read).is_ok());
        expect_err(
            anonymous.get_pipe("closed"),
            ErrorKind::Unauthenticated,
            "credentials were not provided",
        );
        expect_err(
            anonymous.create_pipe(&s3_pipe("anon")),
            ErrorKind::Unauthenticated,
            "credentials were not provided",
        );
        expect_err(
            anonymous.list_remotes(),
            ErrorKind::Unauthenticated,
            "credentials were not provided",
        );
    }
    let listed = owner.list_grants("open").unwrap();
    assert_eq!(listed[0].username.as_deref(), Some("public"));
    owner
        .grant("open", &json!({"username": "public", "role": "write"}))
        .unwrap();
    assert!(pipe_names(stranger.api.as_ref()).is_empty());
    owner
        .grant("open", &json!({"username": "public", "role": "revoke"}))
        .unwrap();
    assert!(owner.list_grants("open").unwrap().is_empty());
}
