//! How a granted secret may be used (config.yaml `grants.<…>.secrets`): sent by the egress
//! layer to named origins while the skill holds only a placeholder, or — only where written
//! explicitly — handed to the skill as its value.
//!
//! Two forms, both under `grants.default.secrets` or `grants.skills.<id>.secrets`:
//!
//! * the **list** form `secrets: [API_TOKEN]`: the skill holds a placeholder; the value is put
//!   into request *headers* to the origins of the same entry's `hosts` (never bodies, never
//!   exposed). Bad items warn and are skipped, as before; a non-empty list also warns (at
//!   boot and in `check`) that it grants placeholders now, with the mapping form to migrate to;
//! * the **mapping** form `secrets: {API_TOKEN: {hosts: [...], body: true}}` or
//!   `{API_TOKEN: {expose: true}}`. Every problem in it is an error (a security setting):
//!   a bad name, a null or non-mapping entry, an unknown key, a bad origin, an empty `hosts`,
//!   `body`/`expose` not `true`/`false`, `expose: true` together with `hosts` or `body`, or
//!   neither `hosts` nor `expose: true`. The secret is then not granted at all, but its
//!   name is kept in `refused_secrets`: it is still a secret's name, so a value under it is
//!   never handed to a skill as a plain env var (it could not be redacted there).

use std::collections::BTreeMap;

use serde_yaml::Value;

use crate::capabilities::{valid_var_name, CapabilitySet, HostOrigin, SecretUse};
use crate::key_path::join;
use crate::lenient::field;
use crate::lenient::{describe, Reader};

/// The keys of one secret's mapping-form entry.
const SECRET_KEYS: [&str; 3] = ["hosts", "body", "expose"];

/// Fills in `set.secrets` and `set.secret_uses` of the grant entry `value` at `key` (read
/// by `read_set`, which leaves a mapping-form `secrets` to this function): the mapping form
/// here, the list form as headers-only placeholders for the entry's `hosts`.
pub(crate) fn read_secret_uses(
    r: &mut Reader<'_>,
    value: &Value,
    key: &str,
    set: &mut CapabilitySet,
) {
    match field(value, "secrets") {
        Some(map @ Value::Mapping(_)) => {
            let (uses, refused) = read_secret_map(r, map, &join(key, "secrets"), &set.hosts);
            set.secrets = uses.keys().cloned().collect();
            set.refused_secrets = refused;
            set.secret_uses = uses;
        }
        _ => {
            if let (false, Some(list)) = (set.secrets.is_empty(), field(value, "secrets")) {
                let names = set.secrets.join(", ");
                let first = &set.secrets[0];
                let what = format!(
                    "the list form now grants placeholders, not values: the skill holds \
                     `molecule-secret-<NAME>-<hex>` for {names}, and the value goes only into request \
                     headers to this entry's `hosts`. A skill that needs the value itself needs \
                     the mapping form `secrets: {{{first}: {{expose: true}}}}`; to send it in \
                     bodies too, `secrets: {{{first}: {{hosts: [...], body: true}}}}`"
                );
                r.warn_at(&join(key, "secrets"), list, what);
            }
            for name in &set.secrets {
                let use_ = SecretUse {
                    hosts: set.hosts.clone(),
                    list_form: true,
                    ..SecretUse::default()
                };
                set.secret_uses.insert(name.clone(), use_);
            }
        }
    }
}

/// Reads the mapping form of `key` (`grants.skills.<id>.secrets`), whose entry's `hosts` are
/// `entry_hosts`: the usable secrets, and the names of the rest (each with an error).
fn read_secret_map(
    r: &mut Reader<'_>,
    map: &Value,
    key: &str,
    entry_hosts: &[HostOrigin],
) -> (BTreeMap<String, SecretUse>, Vec<String>) {
    let (mut out, mut refused) = (BTreeMap::new(), Vec::new());
    let Value::Mapping(m) = map else {
        return (out, refused);
    };
    for (k, entry) in m {
        let Some(name) = r.text(k) else {
            let what = format!("a secret's name must be text, found {}", describe(k));
            r.fail(key, k, what);
            continue;
        };
        let secret_key = join(key, &name);
        if !valid_var_name(&name) {
            let what = format!(
                "`{name}` is not a secret name (letters, digits, _); the secret is not granted"
            );
            r.fail(&secret_key, k, what);
            refused.push(name);
            continue;
        }
        match read_one(r, entry, &secret_key, entry_hosts) {
            Some(use_) => {
                out.insert(name, use_);
            }
            None => refused.push(name),
        }
    }
    (out, refused)
}

/// One secret's entry; `None` (with an error) when it is unusable.
fn read_one(
    r: &mut Reader<'_>,
    entry: &Value,
    key: &str,
    entry_hosts: &[HostOrigin],
) -> Option<SecretUse> {
    let fix = "write {hosts: [\"https://api.example.com\"]} (sent there in headers; add \
               `body: true` for bodies) or {expose: true} (the skill reads the value)";
    let Value::Mapping(m) = entry else {
        let what = format!("expected a mapping, found {}; {fix}", describe(entry));
        r.fail(key, entry, format!("{what}; the secret is not granted"));
        return None;
    };
    let mut ok = true;
    for (k, _) in m {
        let name = r.text(k).unwrap_or_default();
        if !SECRET_KEYS.contains(&name.as_str()) {
            let what = format!(
                "unknown key `{name}`; a secret takes {}; the secret is not granted",
                SECRET_KEYS.join(", ")
            );
            r.fail(&join(key, &name), k, what);
            ok = false;
        }
    }
    let body = flag(r, entry, key, "body", &mut ok);
    let expose = flag(r, entry, key, "expose", &mut ok);
    let hosts = entry
        .get("hosts")
        .map(|v| origins(r, v, &join(key, "hosts"), &mut ok));
    if !ok {
        return None;
    }
    if expose {
        if entry.get("hosts").is_some() || entry.get("body").is_some() {
            let what = "`expose: true` hands the value to the skill, so `hosts` and `body` \
                        (which apply to a placeholder) cannot be set with it: remove one side; \
                        the secret is not granted";
            r.fail(key, entry, what);
            return None;
        }
        return Some(SecretUse {
            expose: true,
            ..SecretUse::default()
        });
    }
    let Some(hosts) = hosts else {
        let what = format!("names no origin to send the secret to; {fix}");
        r.fail(key, entry, format!("{what}; the secret is not granted"));
        return None;
    };
    for h in hosts.iter().filter(|h| !entry_hosts.contains(h)) {
        let what = format!(
            "{h} is not among the hosts this skill is granted, so the secret is never sent \
             there; add it to the entry's `hosts` too"
        );
        r.warn_at(&join(key, "hosts"), entry, what);
    }
    Some(SecretUse {
        hosts,
        body,
        expose: false,
        list_form: false,
    })
}

/// `key.name` as a strict boolean (absent: false); anything else is an error.
fn flag(r: &mut Reader<'_>, entry: &Value, key: &str, name: &str, ok: &mut bool) -> bool {
    match entry.get(name) {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            let what = format!(
                "expected true or false, found {}; the secret is not granted",
                describe(other)
            );
            r.fail(&join(key, name), other, what);
            *ok = false;
            false
        }
    }
}

/// A non-empty list of origins; every problem is an error.
fn origins(r: &mut Reader<'_>, value: &Value, key: &str, ok: &mut bool) -> Vec<HostOrigin> {
    let Value::Sequence(items) = value else {
        let what = format!(
            "expected a list of origins, found {}; the secret is not granted",
            describe(value)
        );
        r.fail(key, value, what);
        *ok = false;
        return Vec::new();
    };
    if items.is_empty() {
        let what = "an empty list sends the secret nowhere; name its origins or remove the \
                    secret; the secret is not granted";
        r.fail(key, value, what);
        *ok = false;
    }
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let item_key = format!("{key}[{i}]");
        let parsed = match r.text(item) {
            Some(text) => HostOrigin::parse(&text),
            None => Err(format!("expected a string, found {}", describe(item))),
        };
        match parsed {
            Ok(h) if !out.contains(&h) => out.push(h),
            Ok(_) => {}
            Err(e) => {
                r.fail(&item_key, item, format!("{e}; the secret is not granted"));
                *ok = false;
            }
        }
    }
    out
}
