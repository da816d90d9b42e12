//! Limits on push-notification configs, checked when a config is created
//! (`CreateTaskPushNotificationConfig`) or sent with a message
//! (`configuration.taskPushNotificationConfig`): how many configs one task may have and how
//! large each field may be, and the characters of the fields that become HTTP header values
//! (`token` → `X-A2A-Notification-Token`, `authentication` → `Authorization: <scheme>
//! <credentials>`), so a config that could never be delivered is refused at once (-32602
//! naming the field) instead of failing every delivery. Fixed, documented in
//! runtime/a2a/README.md ("Wire decisions"). Also the URL forms used in logs and as circuit
//! keys ([`origin`], [`redacted`]).

use reqwest::Url;

use crate::types::TaskPushNotificationConfig;

/// Configs one task may have; the next create is -32602 (a2a-python and a2a-go set no limit;
/// every update of a task is POSTed to each of its configs, so this bounds that fan-out).
pub const MAX_CONFIGS_PER_TASK: usize = 10;
/// Longest `url`, in bytes.
pub const MAX_URL_BYTES: usize = 2048;
/// Longest `token`, in bytes.
pub const MAX_TOKEN_BYTES: usize = 1024;
/// Longest `authentication.scheme`, in bytes.
pub const MAX_SCHEME_BYTES: usize = 64;
/// Longest `authentication.credentials`, in bytes.
pub const MAX_CREDENTIALS_BYTES: usize = 4096;
/// Longest config `id`, in bytes.
pub const MAX_ID_BYTES: usize = 128;

fn too_long(field: &str, len: usize, max: usize) -> Result<(), String> {
    if len > max {
        return Err(format!(
            "`{field}` is {len} bytes; the limit is {max} bytes"
        ));
    }
    Ok(())
}

/// A header value we send: printable ASCII (space to `~`), no control character (CR, LF,
/// NUL, tab, DEL) and nothing outside ASCII.
fn header_text(field: &str, s: &str) -> Result<(), String> {
    match s.bytes().position(|b| !(0x20..=0x7e).contains(&b)) {
        None => Ok(()),
        Some(at) => Err(format!(
            "`{field}` must be printable ASCII (it becomes an HTTP header value); byte {at} is \
             0x{:02x}",
            s.as_bytes()[at]
        )),
    }
}

/// An HTTP auth scheme is an RFC 9110 token: letters, digits and ``!#$%&'*+-.^_`|~``.
fn scheme_token(field: &str, s: &str) -> Result<(), String> {
    let ok = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if s.bytes().all(ok) {
        return Ok(());
    }
    Err(format!(
        "`{field}` must be an HTTP auth scheme (letters, digits and !#$%&'*+-.^_`|~, e.g. \
         `Bearer`)"
    ))
}

/// Checks the sizes and characters of `config`'s fields; `prefix` is the config's path in
/// the request (`""` for CreateTaskPushNotificationConfig,
/// `"configuration.taskPushNotificationConfig."` for a message's config).
///
/// Errors: a sentence naming the field (`url`, `id`, `token`, `authentication.scheme`,
/// `authentication.credentials`, with `prefix`) and the limit or the rule broken.
pub(crate) fn check_fields(
    config: &TaskPushNotificationConfig,
    prefix: &str,
) -> Result<(), String> {
    let f = |name: &str| format!("{prefix}{name}");
    too_long(&f("url"), config.url.len(), MAX_URL_BYTES)?;
    if let Some(id) = &config.id {
        too_long(&f("id"), id.len(), MAX_ID_BYTES)?;
    }
    if let Some(token) = &config.token {
        too_long(&f("token"), token.len(), MAX_TOKEN_BYTES)?;
        header_text(&f("token"), token)?;
    }
    if let Some(auth) = &config.authentication {
        let scheme = f("authentication.scheme");
        too_long(&scheme, auth.scheme.len(), MAX_SCHEME_BYTES)?;
        scheme_token(&scheme, &auth.scheme)?;
        if let Some(cred) = &auth.credentials {
            let name = f("authentication.credentials");
            too_long(&name, cred.len(), MAX_CREDENTIALS_BYTES)?;
            header_text(&name, cred)?;
        }
    }
    Ok(())
}

/// The error of a create past [`MAX_CONFIGS_PER_TASK`], naming the task and the limit.
pub(crate) fn too_many(task_id: &str) -> String {
    format!(
        "task `{}` already has {MAX_CONFIGS_PER_TASK} push notification configs, the most a \
         task may have; delete one first",
        crate::error::clip(task_id)
    )
}

/// `scheme://host:port` of a webhook URL (the key of its circuit and of its share of the
/// queue); a URL that does not parse is its own origin (it fails the policy anyway).
pub(crate) fn origin(url: &str) -> String {
    match Url::parse(url) {
        Ok(u) => format!(
            "{}://{}:{}",
            u.scheme(),
            u.host_str().unwrap_or_default(),
            u.port_or_known_default().unwrap_or(0)
        ),
        Err(_) => crate::error::clip(url).to_string(),
    }
}

/// `url` as logged: without user info, query and fragment (they may hold keys).
pub(crate) fn redacted(url: &Url) -> String {
    let mut u = url.clone();
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u.set_query(None);
    u.set_fragment(None);
    u.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::AuthenticationInfo;

    fn config() -> TaskPushNotificationConfig {
        serde_json::from_value(serde_json::json!({"url": "http://h/"})).expect("config")
    }

    #[test]
    fn fields_are_bounded_and_header_safe() {
        let mut c = config();
        c.token = Some("a\r\nX-Evil: 1".into());
        let e = check_fields(&c, "p.").unwrap_err();
        assert!(e.contains("`p.token`") && e.contains("0x0d"), "{e}");
        c.token = Some("t".repeat(MAX_TOKEN_BYTES + 1));
        let e = check_fields(&c, "").unwrap_err();
        assert!(e.contains("`token`") && e.contains("1024"), "{e}");
        c.token = Some("fine token".into());
        c.authentication = Some(AuthenticationInfo {
            scheme: "Bearer\n".into(),
            credentials: None,
        });
        let e = check_fields(&c, "").unwrap_err();
        assert!(e.contains("`authentication.scheme`"), "{e}");
        c.authentication = Some(AuthenticationInfo {
            scheme: "Bearer".into(),
            credentials: Some("x\u{7f}".into()),
        });
        let e = check_fields(&c, "").unwrap_err();
        assert!(e.contains("`authentication.credentials`"), "{e}");
        c.authentication = Some(AuthenticationInfo {
            scheme: "Bearer".into(),
            credentials: Some("abc.def".into()),
        });
        assert!(check_fields(&c, "").is_ok());
    }

    #[test]
    fn logged_urls_lose_query_and_user_info() {
        let u = Url::parse("https://user:pw@hook.example:8443/p/q?key=secret#frag").unwrap();
        assert_eq!(redacted(&u), "https://hook.example:8443/p/q");
        assert_eq!(origin("http://Hook.Example/x?y"), "http://hook.example:80");
    }
}
