//! Unit tests of `profile`.

use super::*;

/// A valid key text (what `Key::to_text` writes).
const KEY: &str = "secret-key-0123456789abcdefghijklmnopqrstuw";

fn server(url: &str) -> ProfileEntry {
    ProfileEntry {
        server: Some(url.into()),
        token: Some("secret-token".into()),
        key: Some(KEY.into()),
        ..Default::default()
    }
}

fn local() -> ProfileEntry {
    ProfileEntry {
        mode: Some("local".into()),
        ..Default::default()
    }
}

#[test]
fn server_profile_resolves_with_defaults() {
    let p = Profile::resolve("work", &server("http://127.0.0.1:8000/")).unwrap();
    assert_eq!(
        p.backend(),
        &Backend::Server {
            url: "http://127.0.0.1:8000".into(),
            token: Some("secret-token".into())
        }
    );
    assert!(p.repo().ends_with("dpipe/files/work"));
    assert!(!p.is_local());
    assert_eq!(p.key().map(Key::to_text).as_deref(), Some(KEY));
}

#[test]
fn local_profile_resolves_with_defaults() {
    let p = Profile::resolve("laptop", &local()).unwrap();
    let Backend::Local {
        username,
        email,
        db,
    } = p.backend()
    else {
        panic!("not local")
    };
    assert!(!username.is_empty());
    assert_eq!(email, &format!("{username}@localhost.localdomain"));
    assert!(db.ends_with("dpipe/local/laptop.sqlite"));
}

#[test]
fn debug_hides_token_and_key() {
    let p = Profile::resolve("work", &server("https://x.example")).unwrap();
    let text = format!("{p:?} {:?}", server("https://x.example"));
    assert!(!text.contains("secret"), "{text}");
    assert!(text.contains("<redacted>"));
}

#[test]
fn wrong_entries_are_refused() {
    let both = ProfileEntry {
        mode: Some("local".into()),
        ..server("http://h")
    };
    assert!(
        Profile::resolve("p", &both)
            .unwrap_err()
            .to_string()
            .contains("not both")
    );
    assert!(
        Profile::resolve("p", &ProfileEntry::default())
            .unwrap_err()
            .to_string()
            .contains("mode")
    );
    let odd_mode = ProfileEntry {
        mode: Some("remote".into()),
        ..Default::default()
    };
    assert!(Profile::resolve("p", &odd_mode).is_err());
    assert!(Profile::resolve("p", &server("ftp://h")).is_err());
    let local_token = ProfileEntry {
        token: Some("t".into()),
        ..local()
    };
    assert!(
        Profile::resolve("p", &local_token)
            .unwrap_err()
            .to_string()
            .contains("no accounts")
    );
    let server_db = ProfileEntry {
        db: Some("/x.sqlite".into()),
        ..server("http://h")
    };
    assert!(
        Profile::resolve("p", &server_db)
            .unwrap_err()
            .to_string()
            .contains("local-mode")
    );
    let bad_email = ProfileEntry {
        email: Some("nope".into()),
        ..local()
    };
    assert!(
        Profile::resolve("p", &bad_email)
            .unwrap_err()
            .to_string()
            .contains("email")
    );
    let relative = ProfileEntry {
        repo: Some("files".into()),
        ..local()
    };
    assert!(
        Profile::resolve("p", &relative)
            .unwrap_err()
            .to_string()
            .contains("absolute")
    );
    for name in ["", "a/b", "../x", "a b"] {
        assert!(Profile::resolve(name, &local()).is_err(), "{name}");
    }
}

#[test]
fn local_api_opens_the_profile_database() {
    let dir = tempfile::tempdir().unwrap();
    let entry = ProfileEntry {
        db: Some(dir.path().join("sub/l.sqlite")),
        username: Some("ann".into()),
        ..local()
    };
    let api = Profile::resolve("l", &entry).unwrap().api().unwrap();
    assert_eq!(api.whoami().unwrap().username.as_deref(), Some("ann"));
    assert!(dir.path().join("sub/l.sqlite").exists());
}
