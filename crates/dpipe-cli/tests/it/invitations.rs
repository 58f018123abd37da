//! `dpipe perm confirm` and the status column of `perm list`, against a real repo API server:
//! an invitation by email waits until the owner confirms the account that registered with
//! the address, or until the account follows the link `dpipe serve --smtp-url` mails; a grant
//! by email to an address an account has names that account.

use dpipe_testkit::server::{TestServer, http_get};
use dpipe_testkit::services::smtp::{SmtpServer, link_in};

use crate::serve_process::ServeProcess;
use crate::support::{Env, create_listed_pipe, server_user};

/// `ann` with pipe `shared` on the server at `url`.
fn owner_with_pipe(url: &str) -> Env {
    let ann = server_user(url, "ann");
    create_listed_pipe(&ann, "shared");
    ann
}

/// `perm confirm shared --email EMAIL`.
fn confirm(email: &str) -> [&str; 5] {
    ["perm", "confirm", "shared", "--email", email]
}

/// The line of `perm list shared` that mentions `who`.
fn list_line(owner: &Env, who: &str) -> String {
    let table = owner.ok(&["perm", "list", "shared"]);
    table
        .lines()
        .find(|line| line.contains(who))
        .unwrap_or_else(|| panic!("{who} is not in the list:\n{table}"))
        .to_string()
}

#[test]
fn an_invitation_waits_for_the_owners_confirmation() {
    let server = TestServer::start();
    let ann = owner_with_pipe(&server.url);
    let grant = ann.json(&[
        "perm",
        "grant",
        "shared",
        "--email",
        "carol@example.com",
        "--role",
        "write",
    ]);
    assert_eq!(grant["status"], "invited");
    assert_eq!(grant["pending"], true);
    assert!(
        list_line(&ann, "carol@example.com").contains("pending: nobody has registered"),
        "{}",
        list_line(&ann, "carol@example.com")
    );

    // Registering with the address is not enough.
    let carol = server_user(&server.url, "carol");
    carol.fails(&["pipe", "show", "shared"], 4, "permission");
    let line = list_line(&ann, "carol@example.com");
    assert!(line.contains("carol <carol@example.com>"), "{line}");
    assert!(line.contains("awaiting your confirmation"), "{line}");

    let run = ann.run(&["perm", "confirm", "shared", "--email", "carol@example.com"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stderr
            .contains("Confirmed: carol <carol@example.com> now has write access to pipe shared."),
        "{run:?}"
    );
    assert_eq!(carol.json(&["pipe", "show", "shared"])["role"], "write");
    let line = list_line(&ann, "carol@example.com");
    assert!(line.contains("active"), "{line}");
    let audit = ann.ok(&["audit", "shared", "--action", "invitation.claim"]);
    assert!(audit.contains("carol@example.com"), "{audit}");
}

#[test]
fn an_email_grant_to_an_account_names_the_account() {
    let server = TestServer::start();
    let ann = owner_with_pipe(&server.url);
    let bob = server_user(&server.url, "bob");
    let out = ann.ok(&[
        "perm",
        "grant",
        "shared",
        "--email",
        "bob@example.com",
        "--role",
        "read",
    ]);
    assert!(out.contains("bob <bob@example.com>"), "{out}");
    assert!(out.contains("active"), "{out}");
    assert_eq!(bob.json(&["pipe", "show", "shared"])["role"], "read");
}

#[test]
fn wrong_confirmations_change_nothing() {
    let server = TestServer::start();
    let ann = owner_with_pipe(&server.url);
    let bob = server_user(&server.url, "bob");
    ann.ok(&["perm", "grant", "shared", "--user", "bob", "--role", "read"]);
    ann.ok(&[
        "perm",
        "grant",
        "shared",
        "--email",
        "carol@example.com",
        "--role",
        "read",
    ]);
    ann.ok(&[
        "perm",
        "grant",
        "shared",
        "--email",
        "dora@example.com",
        "--role",
        "read",
    ]);
    server_user(&server.url, "dora");
    let before = ann.json(&["perm", "list", "shared"]);

    bob.fails(&confirm("dora@example.com"), 4, "permission");
    ann.fails(
        &confirm("eve@example.com"),
        2,
        "No invitation to eve@example.com is waiting on pipe shared.",
    );
    ann.fails(
        &confirm("carol@example.com"),
        2,
        "Nobody has registered with carol@example.com yet",
    );
    ann.fails(&confirm("not-an-email"), 2, "valid email");
    ann.fails(
        &["perm", "confirm", "missing", "--email", "dora@example.com"],
        3,
        "missing",
    );
    ann.fails(&["perm", "confirm", "shared"], 2, "--email");
    assert_eq!(ann.json(&["perm", "list", "shared"]), before);
}

#[test]
fn dpipe_serve_with_smtp_mails_a_link_that_claims_the_invitation() {
    let smtp = SmtpServer::start();
    let data = tempfile::tempdir().unwrap();
    let server = ServeProcess::start(
        &data.path().join("server"),
        &["--no-storage", "--smtp-url", &smtp.url()],
    );
    let ann = owner_with_pipe(&server.url);
    ann.ok(&[
        "perm",
        "grant",
        "shared",
        "--email",
        "carol@example.com",
        "--role",
        "read",
    ]);
    let carol = server_user(&server.url, "carol");
    carol.fails(&["pipe", "show", "shared"], 4, "permission");
    let mails = smtp.mails_to("carol@example.com");
    assert_eq!(mails.len(), 1, "{:?}", smtp.mails());
    let link = link_in(&mails[0]).expect("a link in the mail");
    let target = link
        .strip_prefix(&server.url)
        .unwrap_or_else(|| panic!("{link} is not on {}", server.url));
    let addr = server.url.trim_start_matches("http://").parse().unwrap();
    let (status, body) = http_get(addr, target).unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(carol.json(&["pipe", "show", "shared"])["role"], "read");
    assert!(
        !server.log().contains(target),
        "the link's token stays out of the log"
    );
}

#[test]
fn dpipe_serve_refuses_a_wrong_smtp_url() {
    let data = tempfile::tempdir().unwrap();
    for url in [
        "smtps://127.0.0.1",
        "127.0.0.1:25",
        "smtp://127.0.0.1:0",
        "smtp://u:p@127.0.0.1",
    ] {
        let (code, stderr) = ServeProcess::refused(
            &data.path().join("never"),
            &["--no-storage", "--smtp-url", url],
            &[],
        );
        assert_eq!(code, 2, "{url}: {stderr}");
        assert!(stderr.contains("expected smtp://HOST"), "{url}: {stderr}");
    }
    assert!(!data.path().join("never").exists(), "nothing is created");
}
