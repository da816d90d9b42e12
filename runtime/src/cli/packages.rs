//! `push`, `pull` and `sign`: skill packages as OCI artifacts. `push SKILL_DIR REF` packs a
//! skill folder and pushes it (optionally signing it); `pull REF` fetches a package into the
//! cache and verifies it (digest, signature policy, safe unpacking); `sign REF --key KEY`
//! pushes a cosign-compatible signature over the manifest digest (`sha256-<hex>.sig`).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use molecule_packages::{
    Limits, PackageRef, PullOptions, SignaturePolicy, SignatureStatus, TrustedKey,
};

use super::Context;

/// Options shared by the package commands.
#[derive(Debug, Args)]
pub struct RegistryArgs {
    /// A registry (`host` or `host:port`) reached over plain HTTP; the loopback (localhost,
    /// 127.0.0.1) always is. Repeat for more.
    #[arg(long = "insecure-registry", value_name = "HOST:PORT")]
    pub insecure: Vec<String>,
}

/// Arguments of `push`.
#[derive(Debug, Args)]
pub struct PushArgs {
    /// The skill folder (holds SKILL.md and the component or its source).
    pub skill_dir: PathBuf,
    /// Where to push: registry/repository:tag.
    #[arg(value_name = "REF")]
    pub reference: String,
    /// Also sign the pushed digest with this private key (PEM; cosign.key needs
    /// COSIGN_PASSWORD).
    #[arg(long, value_name = "KEY.pem")]
    pub sign_key: Option<PathBuf>,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

/// Arguments of `pull`.
#[derive(Debug, Args)]
pub struct PullArgs {
    /// The package: registry/repository@sha256:<hex> (or :tag, resolved and printed).
    #[arg(value_name = "REF")]
    pub reference: String,
    /// The signature policy: require (the default), warn or off.
    #[arg(long, value_name = "POLICY", default_value = "require")]
    pub signatures: String,
    /// A trusted public key (PEM, cosign.pub). Repeat for more.
    #[arg(long = "trusted-key", value_name = "KEY.pub")]
    pub trusted_keys: Vec<PathBuf>,
    /// The package cache (default: <cache dir>/packages).
    #[arg(long, value_name = "DIR")]
    pub packages_dir: Option<PathBuf>,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

/// Arguments of `sign`.
#[derive(Debug, Args)]
pub struct SignArgs {
    /// The package to sign (a tag is resolved to its digest, which is what is signed).
    #[arg(value_name = "REF")]
    pub reference: String,
    /// The private key (PEM PKCS#8, or cosign.key with COSIGN_PASSWORD).
    #[arg(long, value_name = "KEY.pem")]
    pub key: PathBuf,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

/// `push`: prints the pinned reference to put in config.yaml `skills:`.
pub async fn push(args: PushArgs) -> anyhow::Result<ExitCode> {
    let reference = PackageRef::parse(&args.reference)?;
    let limits = Limits::default();
    let insecure = &args.registry.insecure;
    let pushed = molecule_packages::push(&args.skill_dir, &reference, &limits, insecure).await?;
    println!(
        "pushed {} ({} files) as {}",
        args.skill_dir.display(),
        pushed.packed.files.len(),
        pushed.pinned
    );
    if let Some(key) = &args.sign_key {
        let pinned = PackageRef::parse(&pushed.pinned)?;
        let digest = molecule_packages::sign(&pinned, key, password().as_deref(), insecure).await?;
        println!("signed {digest} with {}", key.display());
    }
    println!("{}", pushed.pinned);
    Ok(ExitCode::SUCCESS)
}

/// `pull`: prints the digest, the signature status and the unpacked folder.
pub async fn pull(ctx: &Context, args: PullArgs) -> anyhow::Result<ExitCode> {
    let reference = PackageRef::parse(&args.reference)?;
    let policy = SignaturePolicy::parse(&args.signatures).ok_or_else(|| {
        anyhow::anyhow!(
            "--signatures `{}`: use require, warn or off",
            molecule_runtime::redact::escape(&args.signatures)
        )
    })?;
    let trusted_keys = args
        .trusted_keys
        .iter()
        .map(|k| TrustedKey::load(k))
        .collect::<Result<Vec<_>, _>>()?;
    let options = PullOptions {
        cache_dir: args
            .packages_dir
            .unwrap_or_else(|| ctx.cache_root.join("packages")),
        policy,
        trusted_keys,
        insecure_registries: args.registry.insecure,
        limits: Limits::default(),
    };
    let skill = molecule_packages::pull(&reference, &options).await?;
    let origin = &skill.origin;
    if let SignatureStatus::UnsignedWarned { reason } = &origin.signature {
        eprintln!("warning: {}: {reason}", origin.reference);
    }
    println!("{}", reference.pinned(&origin.digest).whole());
    println!("  skill:     {} ({})", skill.id, skill.config.kind);
    println!("  signature: {}", origin.signature);
    println!("  folder:    {}", skill.dir.display());
    Ok(ExitCode::SUCCESS)
}

/// `sign`: prints the digest signed and the signature tag. A reference by tag (no digest) is
/// resolved by the registry: the digest it named is printed with a warning on stderr and the
/// suggestion to sign `REF@sha256:…` next time, so what was signed is what was reviewed.
pub async fn sign(args: SignArgs) -> anyhow::Result<ExitCode> {
    let reference = PackageRef::parse(&args.reference)?;
    let insecure = &args.registry.insecure;
    let digest =
        molecule_packages::sign(&reference, &args.key, password().as_deref(), insecure).await?;
    if reference.digest().is_none() {
        let pinned = format!(
            "{}/{}@{digest}",
            reference.reference.registry(),
            reference.reference.repository()
        );
        eprintln!(
            "warning: `{}` is a tag; the registry resolved it to {digest} and that digest was \
             signed. Check it is the package you reviewed, and sign by digest next time: {pinned}",
            molecule_runtime::redact::escape(&reference.written)
        );
    }
    println!(
        "signed {}@{digest} with {} (signature at tag {})",
        reference.reference.repository(),
        args.key.display(),
        PackageRef::signature_tag(&digest)
    );
    Ok(ExitCode::SUCCESS)
}

/// The signing key's password from `COSIGN_PASSWORD` (as cosign reads it), if set.
fn password() -> Option<Vec<u8>> {
    std::env::var_os("COSIGN_PASSWORD").map(|p| p.into_encoded_bytes())
}
