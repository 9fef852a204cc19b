//! The engine runs whatever steps a realm names, including ones it has never heard of: a
//! required action registered from outside runs after the password, in order, survives a
//! reload of the auth session, and can deny the login.

use monban_core::clock::ManualClock;
use monban_core::config::{Argon2Settings, RealmConfig};
use monban_core::password_hash::PasswordHasher;
use monban_core::Clock;
use monban_flow::{
    Engine, FlowError, FlowStore, Form, Progress, RequiredAction, StepContext, StepOutcome,
    StepView, Steps,
};
use monban_oidc::authorize::parse_authorization_request;
use monban_oidc::{KeyRing, Provider};
use monban_store::sealed::SecretBox;
use monban_store::{NewUser, Store, User};
use std::sync::Arc;

/// A required action of the test's own: "say yes"; applies to members whose display name
/// starts with "new".
struct SayYes;

impl RequiredAction for SayYes {
    fn name(&self) -> &'static str {
        "say-yes"
    }

    fn applies(&self, _ctx: &StepContext<'_>, user: &User) -> Result<bool, FlowError> {
        Ok(user.display_name.starts_with("new"))
    }

    fn page(&self, _ctx: &StepContext<'_>, user: &User) -> Result<StepView, FlowError> {
        Ok(StepView {
            template: "say-yes",
            model: serde_json::json!({ "who": user.user_id }),
        })
    }

    fn submit(
        &self,
        _ctx: &StepContext<'_>,
        user: &User,
        form: &Form<'_>,
    ) -> Result<StepOutcome, FlowError> {
        match form.get("answer") {
            Some("yes") => Ok(StepOutcome::Done { amr: Vec::new() }),
            Some("no") => Ok(StepOutcome::Denied),
            _ => Ok(StepOutcome::Retry(StepView {
                template: "say-yes",
                model: serde_json::json!({ "who": user.user_id, "error": "say_yes_or_no" }),
            })),
        }
    }
}

fn realm() -> RealmConfig {
    let text = r#"
name = "test"
display_title = "テスト"
[flows]
browser = ["password"]
first_login = ["say-yes"]
[[clients]]
client_id = "portal"
secret = "portal-secret-0123456789"
redirect_uris = ["https://portal.example/cb"]
"#;
    RealmConfig::parse("test.toml", text, "test", &|_| None).unwrap()
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn a_registered_required_action_runs_after_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(
        &format!("sqlite://{}", dir.path().join("flow.db").display()),
        2,
    )
    .unwrap();
    let hasher = PasswordHasher::new(&Argon2Settings {
        memory_kib: 8192,
        iterations: 1,
        parallelism: 1,
        max_concurrent: 0,
    })
    .unwrap();
    let realm = realm();
    let clock = Arc::new(ManualClock::new(1_800_000_000));
    let sealer = SecretBox::from_base64(&SecretBox::generate_key_base64().unwrap()).unwrap();
    let provider = Provider {
        store: store.clone(),
        keys: KeyRing::new(store.clone(), Arc::new(sealer), clock.clone()),
        clock: clock.clone(),
        public_url: "https://monban.example".into(),
        remote_keys: Default::default(),
    };
    let member = |user_id: &str, name: &str| NewUser {
        user_id: user_id.into(),
        display_name: name.into(),
        email: None,
        birthdate: None,
        password_hash: hasher.hash("Init-pass1").unwrap(),
        temporary_id: true,
    };
    store
        .insert_members(
            "test",
            &[
                member("member0001", "new member"),
                member("member0002", "old member"),
            ],
            0,
        )
        .unwrap()
        .unwrap();
    let secrets = SecretBox::from_bytes(&[7; 32]).unwrap();
    let mut steps = Steps::builtin();
    steps.register_action(Arc::new(SayYes));
    let engine = Engine {
        steps: &steps,
        ctx: StepContext {
            store: &store,
            hasher: &hasher,
            clock: clock.as_ref(),
            realm: &realm,
            provider: &provider,
            mailer: None,
            locale: "ja",
            ip: None,
            login_id: "engine-test",
            secrets: &secrets,
        },
    };
    let flows = FlowStore { store: &store };
    let request = parse_authorization_request(
        &realm,
        &pairs(&[
            ("client_id", "portal"),
            ("redirect_uri", "https://portal.example/cb"),
            ("response_type", "code"),
        ]),
    )
    .unwrap();

    let login = |user_id: &str| {
        let mut session = flows
            .create("test", request.clone(), "browser-key", clock.now(), 600)
            .unwrap();
        let progress = engine
            .submit(
                &flows,
                &mut session,
                &Form(&pairs(&[("username", user_id), ("password", "Init-pass1")])),
            )
            .unwrap();
        (session, progress)
    };

    // The action does not apply to this member: straight to completion.
    let (_, progress) = login("member0002");
    assert!(
        matches!(progress, Progress::Complete(ref m) if m.amr == vec!["pwd".to_string()]),
        "{progress:?}"
    );

    // It applies to this one: the password moves the login on (the page is asked for
    // afterwards), the action's page comes next, and stays after a reload.
    let (session, progress) = login("member0001");
    assert_eq!(progress, Progress::Moved);
    let mut reloaded = flows
        .load("test", &session.id, "browser-key", clock.now())
        .unwrap()
        .unwrap();
    let Progress::Show(view) = engine.current(&flows, &mut reloaded).unwrap() else {
        panic!("no page after the password")
    };
    assert_eq!(view.template, "say-yes");
    assert_eq!(
        engine.current(&flows, &mut reloaded).unwrap(),
        Progress::Show(view)
    );
    // A wrong answer shows the page again with the step's error; "yes" completes.
    let retry = engine
        .submit(&flows, &mut reloaded, &Form(&pairs(&[("answer", "maybe")])))
        .unwrap();
    assert!(matches!(retry, Progress::Show(ref v) if v.model["error"] == "say_yes_or_no"));
    let done = engine
        .submit(&flows, &mut reloaded, &Form(&pairs(&[("answer", "yes")])))
        .unwrap();
    assert!(matches!(done, Progress::Complete(_)), "{done:?}");

    // Declining ends the login.
    let (mut session, _) = login("member0001");
    let denied = engine
        .submit(&flows, &mut session, &Form(&pairs(&[("answer", "no")])))
        .unwrap();
    assert_eq!(denied, Progress::Denied);

    // Another browser cannot continue this login.
    assert!(flows
        .load("test", &session.id, "another-browser", clock.now())
        .unwrap()
        .is_none());
    // Past its deadline (each step done gives the realm's full login time again), it is gone.
    clock.advance(realm.tokens.login_seconds - 1);
    assert!(flows
        .load("test", &session.id, "browser-key", clock.now())
        .unwrap()
        .is_some());
    clock.advance(2);
    assert!(flows
        .load("test", &session.id, "browser-key", clock.now())
        .unwrap()
        .is_none());
}
