//! Names of pipes, remotes and users, and email addresses: what is allowed and what is
//! reserved, with the error texts the d6tpipe client and its tests match on.

use crate::{Error, Result};

/// The longest pipe or remote name accepted.
pub const MAX_NAME_LEN: usize = 100;
/// The longest username accepted (Django's limit).
pub const MAX_USERNAME_LEN: usize = 150;
/// The grantee that stands for everybody; no account may take this name.
pub const PUBLIC: &str = "public";
/// Names that would collide with API routes.
const RESERVED_NAMES: [&str; 2] = ["pipes", "remotes"];
/// Usernames that would collide with API routes (`accounts/token/`) or mean everybody.
const RESERVED_USERNAMES: [&str; 2] = [PUBLIC, "token"];
/// The characters [`validate_resource_name`] accepts, as a regular expression for API documents.
pub const NAME_PATTERN: &str = "^[a-zA-Z0-9-]+$";
/// The characters [`validate_username`] accepts, as a regular expression for API documents.
pub const USERNAME_PATTERN: &str = "^[A-Za-z0-9_.@+-]+$";
/// The longest email address [`normalize_email`] accepts.
pub const MAX_EMAIL_LEN: usize = 254;
/// The shape [`normalize_email`] accepts (one `@`, a dotted domain with no empty label, no
/// whitespace or control characters), as a regular expression for API documents.
pub const EMAIL_PATTERN: &str = "^[^@\\s\\x00-\\x1f\\x7f-\\x9f]+@[^@.\\s\\x00-\\x1f\\x7f-\\x9f]+(\\.[^@.\\s\\x00-\\x1f\\x7f-\\x9f]+)+$";

/// Checks a pipe or remote name: `^[a-zA-Z0-9-]+$`, at most [`MAX_NAME_LEN`], not reserved.
pub fn validate_resource_name(name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(Error::invalid_field("name", "This field may not be blank."));
    }
    if name.len() > MAX_NAME_LEN {
        return Err(Error::invalid_field(
            "name",
            format!("Ensure this field has no more than {MAX_NAME_LEN} characters."),
        ));
    }
    if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return Err(Error::invalid_field(
            "name",
            "Name must be alphanumeric [a-zA-Z0-9-]",
        ));
    }
    if RESERVED_NAMES.contains(&name.to_ascii_lowercase().as_str()) {
        return Err(Error::invalid_field(
            "name",
            format!("Name {name} is reserved."),
        ));
    }
    Ok(())
}

/// Checks a username: Django's `^[\w.@+-]+$` (ASCII), at most [`MAX_USERNAME_LEN`], and not
/// the reserved `public` (the error says `Username`, as the d6tpipe tests expect).
pub fn validate_username(username: &str) -> Result<()> {
    if username.len() > MAX_USERNAME_LEN {
        return Err(Error::invalid_field(
            "username",
            format!("Ensure this field has no more than {MAX_USERNAME_LEN} characters."),
        ));
    }
    if !username
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"_.@+-".contains(&b))
    {
        return Err(Error::invalid_field(
            "username",
            "Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters.",
        ));
    }
    if let Some(reserved) = RESERVED_USERNAMES
        .iter()
        .find(|r| username.eq_ignore_ascii_case(r))
    {
        return Err(Error::invalid_field(
            "username",
            format!("Username {reserved} is reserved."),
        ));
    }
    Ok(())
}

/// Checks an email address loosely (one `@`, a dotted domain, no spaces) and returns it
/// lower-cased, the form in which emails are stored and compared.
pub fn normalize_email(field: &str, email: &str) -> Result<String> {
    let invalid = || Error::invalid_field(field, "Enter a valid email address.");
    if email.len() > MAX_EMAIL_LEN || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid());
    }
    let (local, domain) = email.split_once('@').ok_or_else(invalid)?;
    let domain_ok = domain.contains('.')
        && !domain.contains('@')
        && domain.split('.').all(|label| !label.is_empty());
    if local.is_empty() || !domain_ok {
        return Err(invalid());
    }
    Ok(email.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pipe_names() {
        assert!(validate_resource_name("vendor-X1").is_ok());
        let err = validate_resource_name("$invalid").unwrap_err();
        assert!(err.message().contains("alphanumeric"));
        assert!(validate_resource_name("a b").is_err());
        assert!(validate_resource_name("").is_err());
        assert!(
            validate_resource_name("Pipes")
                .unwrap_err()
                .message()
                .contains("reserved")
        );
        assert!(validate_resource_name(&"a".repeat(101)).is_err());
    }

    #[test]
    fn usernames() {
        assert!(validate_username("jo.doe+1@x_y-z").is_ok());
        assert!(
            validate_username("public")
                .unwrap_err()
                .message()
                .contains("Username")
        );
        assert!(validate_username("PUBLIC").is_err());
        assert!(
            validate_username("token")
                .unwrap_err()
                .message()
                .contains("reserved")
        );
        assert!(validate_username("a b").is_err());
        assert!(validate_username("a/b").is_err());
    }

    #[test]
    fn emails() {
        assert_eq!(normalize_email("email", "A@B.com").unwrap(), "a@b.com");
        for bad in [
            "",
            "a",
            "a@b",
            "@b.com",
            "a@b..com",
            "a b@c.com",
            "a@b@c.com",
        ] {
            assert!(normalize_email("email", bad).is_err(), "{bad}");
        }
    }
}
