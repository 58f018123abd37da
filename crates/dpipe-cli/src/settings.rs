//! Resolved settings: the global flags turned into what commands use — the loaded profiles
//! file, the chosen profile, the repo API it reaches and how to print.

use anyhow::Context as _;
use dpipe_client::{Backend, ConfigFile, HttpApi, Key, Profile, RepoApi};

use crate::cli::GlobalArgs;
use crate::exit::UsageError;
use crate::output::Output;

/// Everything a command needs besides its own arguments.
#[derive(Debug)]
pub struct Context {
    /// The profiles file.
    pub config: ConfigFile,
    /// The profile named by `--profile` / `$DPIPE_PROFILE`; `None` for the default one.
    pub selected: Option<String>,
    /// How to print.
    pub out: Output,
}

impl Context {
    /// Loads the profiles file (`$DPIPE_CONFIG` or the default path).
    pub fn load(global: &GlobalArgs) -> anyhow::Result<Context> {
        Ok(Context {
            config: ConfigFile::load_default()?,
            selected: global.profile.clone().filter(|p| !p.is_empty()),
            out: Output::new(global.json),
        })
    }

    /// The chosen profile.
    pub fn profile(&self) -> anyhow::Result<Profile> {
        Ok(self.config.profile(self.selected.as_deref())?)
    }

    /// The repo API the chosen profile reaches.
    pub fn api(&self) -> anyhow::Result<Box<dyn RepoApi>> {
        let profile = self.profile()?;
        profile
            .api()
            .with_context(|| format!("profile {}", profile.name()))
    }

    /// The chosen profile and its server, anonymously, for account commands.
    pub fn account_server(&self) -> anyhow::Result<(Profile, HttpApi)> {
        let profile = self.profile()?;
        let api = match profile.backend() {
            Backend::Server { url, .. } => HttpApi::new(url, None)?,
            Backend::Local { .. } => return Err(no_accounts(&profile)),
        };
        Ok((profile, api))
    }

    /// The chosen profile, which must be a server profile: local mode has no accounts.
    pub fn server_profile(&self) -> anyhow::Result<Profile> {
        let profile = self.profile()?;
        if profile.is_local() {
            return Err(no_accounts(&profile));
        }
        Ok(profile)
    }

    /// The chosen profile's encryption key, made and saved in the profiles file the first
    /// time the profile needs one.
    pub fn encryption_key(&self) -> anyhow::Result<Key> {
        let name = self.profile()?.name().to_string();
        // Read afresh: only the key changes, whatever else this command holds.
        let mut config = ConfigFile::load(self.config.path())?;
        let (key, made) = config.ensure_key(&name)?;
        if made {
            config.save()?;
            self.out.warn(&format!(
                "made an encryption key for profile {name} (saved in {}); keep a copy \
                 (`dpipe key show`): what it encrypts cannot be decrypted without it",
                config.path().display()
            ));
        }
        Ok(key)
    }

    /// Writes the profiles file back.
    pub fn save(&self) -> anyhow::Result<()> {
        Ok(self.config.save()?)
    }
}

fn no_accounts(profile: &Profile) -> anyhow::Error {
    UsageError(format!(
        "local mode has no accounts (profile {} is in local mode); use a profile with a server",
        profile.name()
    ))
    .into()
}
