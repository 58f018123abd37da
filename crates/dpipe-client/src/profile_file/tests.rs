//! Unit tests of `profile_file`.

use super::*;

fn server(url: &str) -> ProfileEntry {
    ProfileEntry {
        server: Some(url.into()),
        ..Default::default()
    }
}

#[test]
fn round_trip_keeps_everything_private() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/config.toml");
    let mut config = ConfigFile::load(&path).unwrap();
    assert_eq!(config.names().count(), 0);
    let (key, old) = (Key::generate().unwrap(), Key::generate().unwrap());
    config
        .insert(
            "work",
            ProfileEntry {
                key: Some(key.to_text()),
                previous_keys: vec![old.to_text()],
                ..server("http://h:1")
            },
        )
        .unwrap();
    config
        .insert(
            "laptop",
            ProfileEntry {
                mode: Some("local".into()),
                ..Default::default()
            },
        )
        .unwrap();
    config.set_token("work", Some("t0k".into())).unwrap();
    config.save().unwrap();
    let loaded = ConfigFile::load(&path).unwrap();
    assert_eq!(
        loaded.default_name(),
        Some("work"),
        "the first profile is the default"
    );
    assert_eq!(loaded.profiles, config.profiles);
    let profile = loaded.profile(None).unwrap();
    assert_eq!(profile.key(), Some(&key));
    assert_eq!(profile.keys().previous(), [old]);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("previous_keys"), "{text}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[test]
fn set_switches_modes_and_checks_values() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = ConfigFile::load(&dir.path().join("c.toml")).unwrap();
    config
        .insert(
            "p",
            ProfileEntry {
                token: Some("t".into()),
                ..server("http://h")
            },
        )
        .unwrap();
    config.set("p", "mode", "local").unwrap();
    assert!(config.profile(Some("p")).unwrap().is_local());
    assert_eq!(
        config.entry("p").unwrap().token,
        None,
        "a token does not survive local mode"
    );
    config.set("p", "username", "ann").unwrap();
    config.set("p", "db", "rel/l.sqlite").unwrap();
    assert!(
        config
            .entry("p")
            .unwrap()
            .db
            .as_ref()
            .unwrap()
            .is_absolute()
    );
    config.set("p", "server", "https://x").unwrap();
    assert_eq!(config.entry("p").unwrap().username, None);
    assert!(
        config.set("p", "username", "bob").is_err(),
        "local-only setting on a server profile"
    );
    assert!(config.set("p", "mode", "server").is_err());
    assert!(config.set("p", "server", "nope").is_err());
    assert!(
        config
            .set("p", "colour", "red")
            .unwrap_err()
            .to_string()
            .contains("settable")
    );
    assert!(
        config
            .set("ghost", "repo", "/x")
            .unwrap_err()
            .to_string()
            .contains("no profile \"ghost\"")
    );
    assert!(config.set_default("ghost").is_err());
    assert!(
        config
            .insert("p", server("http://h"))
            .unwrap_err()
            .to_string()
            .contains("already exists")
    );
    assert_eq!(
        config.entry("p").unwrap().server.as_deref(),
        Some("https://x"),
        "failed calls changed nothing"
    );
}

#[test]
fn bad_files_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    let cases = [
        ("default = [", "not a valid profiles file"),
        (
            "[profiles.a]\nserver = \"http://h\"\nmode = \"local\"\n",
            "not both",
        ),
        ("[profiles.a]\nsever = \"http://h\"\n", "unknown field"),
        (
            "default = \"b\"\n[profiles.a]\nmode = \"local\"\n",
            "default profile \"b\"",
        ),
    ];
    for (text, expected) in cases {
        std::fs::write(&path, text).unwrap();
        let err = ConfigFile::load(&path).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        let message = err.to_string();
        assert!(
            message.contains(&path.display().to_string()) && message.contains(expected),
            "{message}"
        );
    }
}

#[test]
fn choosing_a_profile() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = ConfigFile::load(&dir.path().join("c.toml")).unwrap();
    assert!(
        config
            .profile(None)
            .unwrap_err()
            .to_string()
            .contains("dpipe profile init")
    );
    config.insert("a", server("http://a")).unwrap();
    config.insert("b", server("http://b")).unwrap();
    assert_eq!(config.profile(None).unwrap().name(), "a");
    config.set_default("b").unwrap();
    assert_eq!(config.profile(None).unwrap().name(), "b");
    assert_eq!(config.profile(Some("a")).unwrap().name(), "a");
    let err = config.profile(Some("zz")).unwrap_err().to_string();
    assert!(
        err.contains("no profile \"zz\"") && err.contains("a, b"),
        "{err}"
    );
}
