//! `molecule-runtime keygen DIR [--name cosign]`: writes a new signing key pair for skill
//! packages — `DIR/<name>.key` (ECDSA P-256 PKCS#8 PEM, not encrypted, mode 0600) and
//! `DIR/<name>.pub` (PEM public key), cosign's default scheme, so `push --sign-key`, `sign`
//! and `packages.trusted_keys` use them and `cosign verify --key <name>.pub` accepts the
//! signatures. Never overwrites: an existing file of either name is an error naming it.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context as _};
use clap::Args;
use molecule_packages::generate_key_pair;

/// Arguments of `keygen`.
#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// The folder to write the pair in (created when missing).
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// The files' stem: `<name>.key` and `<name>.pub`.
    #[arg(long, default_value = "cosign")]
    pub name: String,
}

/// Runs `keygen`: prints the private key's path, then the public key's, one a line.
///
/// # Errors
/// A name that is not a plain file stem, an existing key file (never overwritten), or a
/// folder or file that cannot be written (each names the path).
pub fn run(args: KeygenArgs) -> anyhow::Result<ExitCode> {
    let name = &args.name;
    if name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.') {
        bail!("keygen --name {name:?}: a file stem without `/` or a leading `.`");
    }
    let dir = &args.dir;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    for ext in ["key", "pub"] {
        let path = dir.join(format!("{name}.{ext}"));
        if path.symlink_metadata().is_ok() {
            bail!(
                "{} already exists: keygen never overwrites a key (pick another --name or DIR)",
                path.display()
            );
        }
    }
    let (key, public) = generate_key_pair(dir, name)?;
    println!("private key: {}", key.display());
    println!("public key:  {}", public.display());
    eprintln!(
        "sign with `molecule-runtime push SKILL_DIR REF --sign-key {}`; trust with \
         packages.trusted_keys: [{}]",
        key.display(),
        public.display()
    );
    Ok(ExitCode::SUCCESS)
}
