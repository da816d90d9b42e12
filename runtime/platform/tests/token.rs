//! Token persistence: file content, mode 0600, atomic replacement, and the lookup order
//! memory → `<configs>/.auth_token` → `MOLECULE_WORKSPACE_TOKEN`.

mod common;

use molecule_platform::fake::FakePlatform;
use molecule_platform::{write_private_atomic, TokenOrigin, TokenStore, TOKEN_FILE};

#[cfg(unix)]
fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn minted_token_is_written_with_mode_0600_and_used_after_restart() {
    let fake = FakePlatform::start().await;
    let dir = tempfile::tempdir().unwrap();
    let c = common::registered(&fake, "ws-a", dir.path()).await;
    let token = fake.token_of("ws-a").unwrap();
    let path = dir.path().join(TOKEN_FILE);
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        format!("{token}\n")
    );
    #[cfg(unix)]
    assert_eq!(mode(&path), 0o600);
    assert_eq!(c.tokens().origin(), Some(TokenOrigin::Memory));
    // No temporary files are left behind.
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec![TOKEN_FILE.to_string()]);
    // A new process (new client) reads the file; the env fallback is ignored.
    let restarted = common::builder(&fake, "ws-a", dir.path())
        .env_token(Some("stale-env-token".into()))
        .build()
        .unwrap();
    assert_eq!(restarted.tokens().origin(), Some(TokenOrigin::File));
    restarted.peers().await.unwrap();
    assert_eq!(fake.calls().last().unwrap().bearer(), Some(token.as_str()));
    assert!(
        !format!("{:?}", restarted.tokens()).contains(&token),
        "Debug never shows the token"
    );
}

#[test]
fn lookup_order_is_memory_then_file_then_env() {
    let dir = tempfile::tempdir().unwrap();
    let store = TokenStore::new(Some(dir.path()), Some("from-env".into()));
    assert_eq!(
        (store.get().as_deref(), store.origin()),
        (Some("from-env"), Some(TokenOrigin::Env))
    );
    std::fs::write(dir.path().join(TOKEN_FILE), "from-file\n").unwrap();
    let store = TokenStore::new(Some(dir.path()), Some("from-env".into()));
    assert_eq!(
        (store.get().as_deref(), store.origin()),
        (Some("from-file"), Some(TokenOrigin::File))
    );
    store.persist("from-memory").unwrap();
    assert_eq!(
        (store.get().as_deref(), store.origin()),
        (Some("from-memory"), Some(TokenOrigin::Memory))
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join(TOKEN_FILE)).unwrap(),
        "from-memory\n"
    );
    // No config dir and no env: no token (and no header sent).
    assert_eq!(TokenStore::new(None, Some("  ".into())).get(), None);
    // An empty file falls through to env.
    let empty = tempfile::tempdir().unwrap();
    std::fs::write(empty.path().join(TOKEN_FILE), "\n").unwrap();
    assert_eq!(
        TokenStore::new(Some(empty.path()), Some("e".into())).origin(),
        Some(TokenOrigin::Env)
    );
}

#[tokio::test]
async fn env_token_authenticates_a_provisioned_workspace() {
    let fake = FakePlatform::start().await;
    let token = fake.provision("ws-a", "A", None);
    let dir = tempfile::tempdir().unwrap();
    let c = common::builder(&fake, "ws-a", dir.path())
        .env_token(Some(token.clone()))
        .build()
        .unwrap();
    let r = c
        .register(&common::registration("ws-a", "http://a/"))
        .await
        .unwrap();
    assert!(r.auth_token.is_none(), "already has a token: none minted");
    assert_eq!(fake.calls().last().unwrap().bearer(), Some(token.as_str()));
    assert!(
        !dir.path().join(TOKEN_FILE).exists(),
        "nothing new to persist"
    );
}

#[test]
fn atomic_write_replaces_whole_file_and_tightens_permissions() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested").join(TOKEN_FILE);
    write_private_atomic(&path, b"first-token-that-is-long\n").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let inode_before = std::fs::metadata(&path).unwrap();
    write_private_atomic(&path, b"short\n").unwrap();
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "short\n",
        "no leftover bytes"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        assert_eq!(mode(&path), 0o600, "a rewrite is 0600 again");
        assert_ne!(
            std::fs::metadata(&path).unwrap().ino(),
            inode_before.ino(),
            "replaced by rename, not rewritten in place"
        );
    }
    let _ = inode_before;
}

#[test]
fn unwritable_config_dir_keeps_token_in_memory_and_says_what_to_fix() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("not-a-dir");
    std::fs::write(&blocker, "").unwrap();
    let store = TokenStore::new(Some(&blocker), None);
    let e = store.persist("tok").unwrap_err().to_string();
    assert!(
        e.contains("WORKSPACE_CONFIG_PATH") && !e.contains("tok\""),
        "{e}"
    );
    assert_eq!(store.get().as_deref(), Some("tok"));
}
