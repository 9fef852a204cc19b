//! The `monban` command line.

use crate::settings::Settings;
use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand};
use monban_core::config::RealmConfig;
use monban_core::members::{parse_birthdate, parse_member_csv};
use monban_core::password_hash::PasswordHasher;
use monban_core::policy::UserIdPolicy;
use monban_core::{Clock, SystemClock};
use monban_store::{NewUser, Store};
use std::io::Read;
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "monban",
    version,
    about = "Monban (門番): an OpenID Connect provider for health-insurance-society member portals"
)]
pub struct Cli {
    /// The configuration directory (monban.toml and realms/).
    #[arg(
        long,
        env = "MONBAN_CONFIG_DIR",
        default_value = "config",
        global = true
    )]
    pub config_dir: PathBuf,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Serve: apply migrations, make sure every realm has signing keys, listen.
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Check every configuration file and report each problem with file, line and field.
    CheckConfig,
    /// Manage members.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Manage the terms of use.
    #[command(subcommand)]
    Terms(TermsCommand),
}

#[derive(Subcommand)]
pub enum TermsCommand {
    /// Publish FILE (UTF-8 text) as the realm's new terms of use. Every member accepts it at
    /// their next login, after authenticating; every instance shows it at once.
    Publish {
        #[arg(long)]
        realm: String,
        file: PathBuf,
    },
}

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Add a new active key of every algorithm. The old keys stop signing and stay in the
    /// JWKS until every token they signed has expired, then leave.
    Rotate {
        #[arg(long)]
        realm: String,
    },
}

#[derive(Subcommand)]
pub enum UserCommand {
    /// Create one provisioned member (temporary ID and password).
    Add(AddUser),
    /// Import provisioned members from a CSV file with the header
    /// `user_id,password,display_name,birthdate,email`. A file with any bad row is rejected whole.
    Import {
        #[arg(long)]
        realm: String,
        file: PathBuf,
    },
    /// Lift a lockout after too many failed logins.
    Unlock {
        #[arg(long)]
        realm: String,
        #[arg(long)]
        user_id: String,
    },
    /// Make a member do a required action (e.g. update-password) at their next login.
    RequireAction {
        #[arg(long)]
        realm: String,
        #[arg(long)]
        user_id: String,
        /// The action's name, as in `[flows] first_login`.
        action: String,
    },
}

#[derive(Args)]
pub struct AddUser {
    #[arg(long)]
    realm: String,
    #[arg(long)]
    user_id: String,
    #[arg(long)]
    display_name: String,
    /// YYYY-MM-DD
    #[arg(long)]
    birthdate: Option<String>,
    #[arg(long)]
    email: Option<String>,
    /// Read the temporary password from standard input instead of generating one.
    #[arg(long)]
    password_stdin: bool,
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = match Settings::load(&cli.config_dir) {
        Ok(settings) => settings,
        Err(report) => {
            eprint!("{report}");
            bail!(
                "the configuration in {} is invalid",
                cli.config_dir.display()
            );
        }
    };
    match cli.command {
        Command::CheckConfig => {
            settings
                .encryption_key()
                .map_err(|report| anyhow::anyhow!("{report}"))?;
            if let Err(problems) =
                crate::flow_check::check_flows(&settings, &monban_flow::Steps::builtin())
            {
                eprintln!("{problems}");
                bail!(
                    "the configuration in {} is invalid",
                    cli.config_dir.display()
                );
            }
            println!(
                "configuration OK: {} realm(s): {}",
                settings.realms.len(),
                settings
                    .realms
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            Ok(())
        }
        Command::Migrate => {
            let store = open_store(&settings)?;
            store.migrate()?;
            println!(
                "database schema is up to date ({})",
                monban_store::redact(&settings.server.database_url)
            );
            Ok(())
        }
        Command::Serve => serve(settings),
        Command::User(command) => user(settings, command),
        Command::Keys(KeysCommand::Rotate { realm }) => rotate_keys(&settings, &realm),
        Command::Terms(TermsCommand::Publish { realm, file }) => {
            publish_terms(&settings, &realm, &file)
        }
    }
}

fn open_store(settings: &Settings) -> anyhow::Result<Store> {
    Store::open(&settings.server.database_url, 2).with_context(|| {
        format!(
            "opening {}",
            monban_store::redact(&settings.server.database_url)
        )
    })
}

fn serve(settings: Settings) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let system = actix_web::rt::System::with_tokio_rt(|| runtime);
    system.block_on(async move {
        let running = crate::app::start(&settings)?;
        tracing::info!(address = %running.address, public_url = %settings.server.public_url, "monban is listening");
        for realm in settings.realms.keys() {
            tracing::info!("realm {realm}: issuer {}", settings.server.issuer(realm));
        }
        running.server.await?;
        Ok(())
    })
}

/// The realm named on the command line, or an error listing the realms there are.
fn require_realm<'a>(settings: &'a Settings, realm: &str) -> anyhow::Result<&'a RealmConfig> {
    settings.realms.get(realm).ok_or_else(|| {
        anyhow::anyhow!(
            "no realm named {realm} (realms: {})",
            settings
                .realms
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        )
    })
}

fn user(settings: Settings, command: UserCommand) -> anyhow::Result<()> {
    let clock = SystemClock;
    match command {
        UserCommand::Import { realm, file } => {
            let policy = require_realm(&settings, &realm)?.user_id_policy.clone();
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let members = match parse_member_csv(&text, &policy) {
                Ok(members) => members,
                Err(problems) => {
                    for problem in &problems {
                        eprintln!("{}: {problem}", file.display());
                    }
                    bail!(
                        "{}: {} problem(s); nothing was imported",
                        file.display(),
                        problems.len()
                    );
                }
            };
            let hasher = PasswordHasher::new(&settings.server.password_hashing)?;
            let rows = members
                .iter()
                .map(|m| {
                    Ok(NewUser {
                        user_id: m.user_id.clone(),
                        display_name: m.display_name.clone(),
                        email: m.email.clone(),
                        birthdate: m.birthdate.map(|d| d.format("%Y-%m-%d").to_string()),
                        password_hash: hasher.hash(&m.password)?,
                        temporary_id: true,
                    })
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            let store = open_store(&settings)?;
            match store.insert_members(&realm, &rows, clock.now())? {
                Ok(created) => {
                    for member in &created {
                        audit_member_created(&store, &realm, &member.id, clock.now())?;
                    }
                    println!("imported {} member(s) into realm {realm}", created.len());
                    Ok(())
                }
                Err(conflicts) => {
                    for conflict in &conflicts {
                        // Data lines start at line 2 (after the header).
                        eprintln!(
                            "{}: line {}: {} \"{}\" already exists in realm {realm}",
                            file.display(),
                            conflict.index + 2,
                            conflict.field,
                            conflict.value
                        );
                    }
                    bail!(
                        "{}: {} conflict(s); nothing was imported",
                        file.display(),
                        conflicts.len()
                    );
                }
            }
        }
        UserCommand::Add(add) => {
            let policy = require_realm(&settings, &add.realm)?.user_id_policy.clone();
            let user_id = UserIdPolicy::normalize(&add.user_id);
            if user_id.is_empty() || !policy.characters_allowed(&user_id) {
                bail!(
                    "user ID \"{}\" contains characters realm {} does not allow",
                    add.user_id,
                    add.realm
                );
            }
            let (password, generated) = if add.password_stdin {
                let mut text = String::new();
                std::io::stdin().read_to_string(&mut text)?;
                (text.trim_end_matches(['\r', '\n']).to_string(), false)
            } else {
                (monban_oidc::random_token()[..12].to_string(), true)
            };
            if password.is_empty() {
                bail!("the password is empty");
            }
            if let Some(email) = &add.email {
                if !monban_core::members::looks_like_email(email) {
                    bail!("email \"{email}\" is not a valid mail address");
                }
            }
            let birthdate = match &add.birthdate {
                Some(text) => Some(
                    parse_birthdate(text)
                        .map(|date| date.format("%Y-%m-%d").to_string())
                        .with_context(|| {
                            format!("birthdate \"{text}\" is not a date written YYYY-MM-DD")
                        })?,
                ),
                None => None,
            };
            let hasher = PasswordHasher::new(&settings.server.password_hashing)?;
            let row = NewUser {
                user_id: user_id.clone(),
                display_name: add.display_name.clone(),
                email: add.email.as_deref().map(str::to_ascii_lowercase),
                birthdate,
                password_hash: hasher.hash(&password)?,
                temporary_id: true,
            };
            let store = open_store(&settings)?;
            match store.insert_members(&add.realm, &[row], clock.now())? {
                Ok(created) => {
                    audit_member_created(&store, &add.realm, &created[0].id, clock.now())?;
                    println!("created member {user_id} in realm {}", add.realm);
                    if generated {
                        // Shown once, for the society to hand over; never stored in clear.
                        println!("temporary password: {password}");
                    }
                    Ok(())
                }
                Err(conflicts) => bail!(
                    "{} \"{}\" already exists in realm {}",
                    conflicts[0].field,
                    conflicts[0].value,
                    add.realm
                ),
            }
        }
        UserCommand::Unlock { realm, user_id } => {
            let store = open_store(&settings)?;
            let Some(user) = store.find_user_by_user_id(&realm, &user_id)? else {
                bail!("no member {user_id} in realm {realm}");
            };
            store.clear_login_failures(&user.id)?;
            store.record_audit_event(
                &monban_store::AuditEvent {
                    realm: &realm,
                    kind: "ADMIN_UNLOCK",
                    user_pk: Some(&user.id),
                    ..Default::default()
                },
                clock.now(),
            )?;
            println!("unlocked {} in realm {realm}", user.user_id);
            Ok(())
        }
        UserCommand::RequireAction {
            realm,
            user_id,
            action,
        } => {
            require_realm(&settings, &realm)?;
            let steps = monban_flow::Steps::builtin();
            if steps.action(&action).is_none() {
                bail!(
                    "no required action \"{action}\" (known: {})",
                    steps.action_names().join(", ")
                );
            }
            let store = open_store(&settings)?;
            let Some(user) = store.find_user_by_user_id(&realm, &user_id)? else {
                bail!("no member {user_id} in realm {realm}");
            };
            store.require_action(&user.id, &action, clock.now())?;
            store.record_audit_event(
                &monban_store::AuditEvent {
                    realm: &realm,
                    kind: "ADMIN_REQUIRE_ACTION",
                    user_pk: Some(&user.id),
                    detail: Some(action.clone()),
                    ..Default::default()
                },
                clock.now(),
            )?;
            println!(
                "{} in realm {realm} must {action} at the next login",
                user.user_id
            );
            Ok(())
        }
    }
}

fn publish_terms(settings: &Settings, realm: &str, file: &std::path::Path) -> anyhow::Result<()> {
    if require_realm(settings, realm)?.terms.is_none() {
        bail!("realm {realm} has no [terms] section: its members are never shown terms; nothing was published");
    }
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    if text.trim().is_empty() {
        bail!("{} is empty; nothing was published", file.display());
    }
    let store = open_store(settings)?;
    let now = SystemClock.now();
    if let Some(current) = store.current_terms(realm)? {
        if current.body == text {
            println!(
                "{} is version {} already in force in realm {realm}; nothing was published",
                file.display(),
                current.version
            );
            return Ok(());
        }
    }
    let published = store.publish_terms(realm, &text, now)?;
    store.record_audit_event(
        &monban_store::AuditEvent {
            realm,
            kind: "ADMIN_TERMS_PUBLISHED",
            detail: Some(format!("version={}", published.version)),
            ..Default::default()
        },
        now,
    )?;
    println!(
        "published the terms of use of realm {realm} as version {}; members accept it at their next login",
        published.version
    );
    Ok(())
}

fn audit_member_created(store: &Store, realm: &str, user_pk: &str, now: i64) -> anyhow::Result<()> {
    store.record_audit_event(
        &monban_store::AuditEvent {
            realm,
            kind: "ADMIN_USER_CREATED",
            user_pk: Some(user_pk),
            ..Default::default()
        },
        now,
    )?;
    Ok(())
}

fn rotate_keys(settings: &Settings, realm_name: &str) -> anyhow::Result<()> {
    let Some(realm) = settings.realms.get(realm_name) else {
        bail!("no realm named {realm_name}");
    };
    let sealer = std::sync::Arc::new(
        settings
            .encryption_key()
            .map_err(|r| anyhow::anyhow!("{r}"))?,
    );
    let store = open_store(settings)?;
    let keys = monban_oidc::KeyRing::new(store.clone(), sealer, std::sync::Arc::new(SystemClock));
    keys.ensure_keys(realm_name, SystemClock.now())?;
    // Old keys must outlive every token they signed: the longest access/ID token life, plus
    // a margin for clocks and caches.
    let longest = realm
        .clients
        .iter()
        .map(|c| c.access_token_seconds(&realm.tokens))
        .chain([realm.tokens.access_token_seconds])
        .max()
        .unwrap_or(realm.tokens.access_token_seconds);
    let retire_after = longest + 300;
    let created = keys.rotate(realm_name, retire_after)?;
    store.record_audit_event(
        &monban_store::AuditEvent {
            realm: realm_name,
            kind: "ADMIN_KEYS_ROTATED",
            detail: Some(created.join(",")),
            ..Default::default()
        },
        SystemClock.now(),
    )?;
    println!(
        "realm {realm_name}: new signing keys {}",
        created.join(", ")
    );
    println!("the previous keys stay published for {retire_after} s, then leave the JWKS");
    Ok(())
}
