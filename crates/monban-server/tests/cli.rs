//! The `monban` binary's administrative commands, run as an operator would.

mod support;

use std::process::Command;
use support::*;

fn monban(config_dir: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_monban"))
        .arg("--config-dir")
        .arg(config_dir)
        .args(args)
        .env_remove("MONBAN_DATABASE_URL")
        .env("MONBAN_LOG", "error")
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into(),
        String::from_utf8_lossy(&output.stderr).into(),
    )
}

fn config_with_database(realm: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), realm);
    let monban_toml = dir.path().join("monban.toml");
    let text = std::fs::read_to_string(&monban_toml).unwrap();
    let database = format!(
        "database_url = \"sqlite://{}\"\n",
        dir.path().join("monban.db").display()
    );
    std::fs::write(&monban_toml, database + &text).unwrap();
    dir
}

#[test]
fn check_config_names_file_line_and_field() {
    let realm = realm_toml(REDIRECT)
        .replace(
            "display_title = \"テスト健保加入者ページ\"",
            "display_title = \"\"",
        )
        .replace("max_failures = 3", "max_failures = 0")
        .replace(
            "redirect_uris = [\"https://portal.example/callback\"]\npost_logout",
            "redirect_uris = [\"https://portal.example/*\"]\npost_logout",
        );
    let dir = config_with_database(&realm);
    let (ok, _, stderr) = monban(dir.path(), &["check-config"]);
    assert!(!ok);
    let file = dir.path().join("realms/test.toml").display().to_string();
    assert!(
        stderr.contains(&format!("{file}:3: display_title: must not be empty")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "{file}:7: lockout.max_failures: must be at least 1"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "{file}:14: clients[0].redirect_uris[0]: wildcards are not allowed"
        )),
        "{stderr}"
    );
    // `serve` refuses to start with the same report.
    let (ok, _, stderr) = monban(dir.path(), &["serve"]);
    assert!(!ok);
    assert!(
        stderr.contains(&format!("{file}:3: display_title: must not be empty")),
        "{stderr}"
    );
}

#[test]
fn check_config_accepts_the_shipped_configuration() {
    let shipped = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config");
    let scratch = tempfile::tempdir().unwrap();
    // The shipped monban.toml creates its key under ./data; run it in a scratch directory.
    let output = Command::new(env!("CARGO_BIN_EXE_monban"))
        .current_dir(scratch.path())
        .arg("--config-dir")
        .arg(&shipped)
        .arg("check-config")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("demo"), "{stdout}");
}

#[test]
fn a_csv_with_bad_rows_is_rejected_whole() {
    let dir = config_with_database(&realm_toml(REDIRECT));
    let csv = dir.path().join("members.csv");
    std::fs::write(
        &csv,
        "user_id,password,display_name,birthdate,email\nmember0001,Init-pass1,健保 太郎,1979-08-22,taro@example.jp\nbad id,Init-pass1,,1979-02-30,not-an-address\n",
    )
    .unwrap();
    let (ok, _, stderr) = monban(
        dir.path(),
        &["user", "import", "--realm", "test", csv.to_str().unwrap()],
    );
    assert!(!ok);
    assert!(
        stderr.contains("line 3: user_id \"bad id\" contains characters the realm does not allow"),
        "{stderr}"
    );
    assert!(stderr.contains("line 3: display_name is empty"), "{stderr}");
    assert!(
        stderr.contains("line 3: birthdate \"1979-02-30\""),
        "{stderr}"
    );
    assert!(
        stderr.contains("line 3: email \"not-an-address\""),
        "{stderr}"
    );
    assert!(stderr.contains("nothing was imported"), "{stderr}");
    let store = monban_store::Store::open(
        &format!("sqlite://{}", dir.path().join("monban.db").display()),
        1,
    )
    .unwrap();
    assert!(
        store
            .find_user_by_user_id("test", "member0001")
            .unwrap()
            .is_none(),
        "not even the good row"
    );

    // Fixed, it imports; imported again, the clash is reported and nothing changes.
    std::fs::write(&csv, "user_id,password,display_name,birthdate,email\nMember0001,Init-pass1,健保 太郎,1979-08-22,taro@example.jp\n").unwrap();
    let (ok, stdout, stderr) = monban(
        dir.path(),
        &["user", "import", "--realm", "test", csv.to_str().unwrap()],
    );
    assert!(ok, "{stderr}");
    assert!(stdout.contains("imported 1 member(s)"));
    let user = store
        .find_user_by_user_id("test", "MEMBER0001")
        .unwrap()
        .unwrap();
    assert!(user.temporary_id);
    assert!(user.password_hash.starts_with("$argon2id$"));
    let (ok, _, stderr) = monban(
        dir.path(),
        &["user", "import", "--realm", "test", csv.to_str().unwrap()],
    );
    assert!(!ok);
    assert!(
        stderr.contains("line 2: user_id \"member0001\" already exists"),
        "{stderr}"
    );
}

#[test]
fn user_add_and_unlock() {
    let dir = config_with_database(&realm_toml(REDIRECT));
    let (ok, stdout, stderr) = monban(
        dir.path(),
        &[
            "user",
            "add",
            "--realm",
            "test",
            "--user-id",
            "Member0009",
            "--display-name",
            "健保 九郎",
            "--birthdate",
            "1990-01-31",
        ],
    );
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains("temporary password: "),
        "a generated password is shown once"
    );
    let (ok, _, stderr) = monban(
        dir.path(),
        &[
            "user",
            "add",
            "--realm",
            "test",
            "--user-id",
            "member0009",
            "--display-name",
            "x",
        ],
    );
    assert!(!ok);
    assert!(stderr.contains("already exists"), "{stderr}");
    let (ok, stdout, _) = monban(
        dir.path(),
        &[
            "user",
            "unlock",
            "--realm",
            "test",
            "--user-id",
            "MEMBER0009",
        ],
    );
    assert!(ok);
    assert!(stdout.contains("unlocked member0009"));
    let (ok, _, _) = monban(dir.path(), &["migrate"]);
    assert!(ok);
}

fn store_of(dir: &std::path::Path) -> monban_store::Store {
    monban_store::Store::open(&format!("sqlite://{}", dir.join("monban.db").display()), 1).unwrap()
}

#[test]
fn terms_publish_makes_new_versions() {
    let realm = realm_toml(REDIRECT)
        + "\n[flows]\nfirst_login = [\"terms\"]\n[terms]\nfile = \"terms.txt\"\n";
    let dir = config_with_database(&realm);
    std::fs::write(dir.path().join("terms.txt"), "第1版").unwrap();
    let second = dir.path().join("terms-v2.txt");
    std::fs::write(&second, "第2版の利用規約").unwrap();
    let second = second.display().to_string();

    let (ok, stdout, stderr) = monban(
        dir.path(),
        &["terms", "publish", "--realm", "test", &second],
    );
    assert!(ok, "{stderr}");
    assert!(stdout.contains("as version 1"), "{stdout}");
    // The same text again changes nothing.
    let (ok, stdout, _) = monban(
        dir.path(),
        &["terms", "publish", "--realm", "test", &second],
    );
    assert!(ok);
    assert!(stdout.contains("nothing was published"), "{stdout}");
    std::fs::write(dir.path().join("terms-v3.txt"), "第3版").unwrap();
    let third = dir.path().join("terms-v3.txt").display().to_string();
    let (ok, stdout, _) = monban(dir.path(), &["terms", "publish", "--realm", "test", &third]);
    assert!(ok);
    assert!(stdout.contains("as version 2"), "{stdout}");
    let current = store_of(dir.path()).current_terms("test").unwrap().unwrap();
    assert_eq!((current.version, current.body.as_str()), (2, "第3版"));

    // Refused: an empty file, an unknown realm.
    std::fs::write(dir.path().join("empty.txt"), " \n").unwrap();
    let empty = dir.path().join("empty.txt").display().to_string();
    let (ok, _, stderr) = monban(dir.path(), &["terms", "publish", "--realm", "test", &empty]);
    assert!(!ok);
    assert!(
        stderr.contains("is empty; nothing was published"),
        "{stderr}"
    );
    let (ok, _, stderr) = monban(
        dir.path(),
        &["terms", "publish", "--realm", "nowhere", &third],
    );
    assert!(!ok);
    assert!(stderr.contains("no realm named nowhere"), "{stderr}");
    // A realm that shows no terms gets none published.
    let plain = config_with_database(&realm_toml(REDIRECT));
    let (ok, _, stderr) = monban(
        plain.path(),
        &["terms", "publish", "--realm", "test", &third],
    );
    assert!(!ok);
    assert!(stderr.contains("has no [terms] section"), "{stderr}");
}

#[test]
fn user_require_action() {
    let dir = config_with_database(&realm_toml(REDIRECT));
    let (ok, _, stderr) = monban(
        dir.path(),
        &[
            "user",
            "add",
            "--realm",
            "test",
            "--user-id",
            "member0009",
            "--display-name",
            "x",
        ],
    );
    assert!(ok, "{stderr}");
    let (ok, stdout, stderr) = monban(
        dir.path(),
        &[
            "user",
            "require-action",
            "--realm",
            "test",
            "--user-id",
            "MEMBER0009",
            "update-password",
        ],
    );
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains("member0009 in realm test must update-password"),
        "{stdout}"
    );
    let store = store_of(dir.path());
    let member = store
        .find_user_by_user_id("test", "member0009")
        .unwrap()
        .unwrap();
    assert_eq!(
        store.required_actions_of(&member.id).unwrap(),
        vec!["update-password"]
    );

    let (ok, _, stderr) = monban(
        dir.path(),
        &[
            "user",
            "require-action",
            "--realm",
            "test",
            "--user-id",
            "member0009",
            "fly",
        ],
    );
    assert!(!ok);
    assert!(
        stderr.contains("no required action \"fly\"") && stderr.contains("update-email"),
        "{stderr}"
    );
    let (ok, _, stderr) = monban(
        dir.path(),
        &[
            "user",
            "require-action",
            "--realm",
            "test",
            "--user-id",
            "nobody01",
            "terms",
        ],
    );
    assert!(!ok);
    assert!(stderr.contains("no member nobody01"), "{stderr}");
}

#[test]
fn check_config_refuses_steps_without_what_they_need() {
    let file = |dir: &tempfile::TempDir| dir.path().join("realms/test.toml").display().to_string();

    // Verification mails need mail settings.
    let realm =
        realm_toml(REDIRECT) + "\n[flows]\nfirst_login = [\"update-email\", \"verify-email\"]\n";
    let dir = config_with_database(&realm);
    let (ok, _, stderr) = monban(dir.path(), &["check-config"]);
    assert!(!ok);
    assert!(
        stderr.contains(&format!(
            "{}: flows.first_login[1]: \"verify-email\" sends mail",
            file(&dir)
        )),
        "{stderr}"
    );

    // The terms step needs terms, and the terms file must be there.
    let realm = realm_toml(REDIRECT) + "\n[flows]\nfirst_login = [\"terms\"]\n";
    let dir = config_with_database(&realm);
    let (ok, _, stderr) = monban(dir.path(), &["check-config"]);
    assert!(!ok);
    assert!(
        stderr.contains("flows.first_login: the \"terms\" step needs a [terms] section"),
        "{stderr}"
    );
    let realm = realm + "[terms]\nfile = \"missing.txt\"\n";
    let dir = config_with_database(&realm);
    let (ok, _, stderr) = monban(dir.path(), &["check-config"]);
    assert!(!ok);
    assert!(
        stderr.contains(&format!("{}: terms.file: cannot read", file(&dir))),
        "{stderr}"
    );

    // Unknown step names are named with the ones that exist.
    let realm = realm_toml(REDIRECT) + "\n[flows]\nfirst_login = [\"birthdate\", \"selfie\"]\n";
    let dir = config_with_database(&realm);
    let (ok, _, stderr) = monban(dir.path(), &["check-config"]);
    assert!(!ok);
    assert!(
        stderr.contains("flows.first_login[1]: no required action \"selfie\"")
            && stderr.contains("user-id-and-method"),
        "{stderr}"
    );
}
