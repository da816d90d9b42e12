//! The one place a 0.3 push `authentication` (`{schemes: [..], credentials}`) becomes the 1.0
//! `AuthenticationInfo` (`{scheme, credentials}`): used by a message's push config
//! (`compat_v03_push.rs`) and by `tasks/pushNotificationConfig/set` (`push_ops.rs`). A leaf:
//! it imports nothing of the crate but its error type.

use serde_json::{Map, Value};

use crate::error::{A2aError, A2aResult};

/// Rewrites a 0.3 `PushNotificationAuthenticationInfo` (`{schemes: ["Bearer"], credentials}`)
/// into the 1.0 `AuthenticationInfo` (`{scheme: "Bearer", credentials}`): the first scheme is
/// the one used, as the reference SDK converts it. An object that already has `scheme` (1.0
/// form) is returned unchanged. `field` is the object's path, for errors.
///
/// Errors: `schemes` that is not a non-empty array of strings is -32602 naming the field.
pub(crate) fn authentication_to_v1(
    auth: &Map<String, Value>,
    field: &str,
) -> A2aResult<Map<String, Value>> {
    let mut out = auth.clone();
    let Some(schemes) = out.remove("schemes") else {
        return Ok(out);
    };
    if out.get("scheme").is_some_and(|s| !s.is_null()) {
        return Ok(out);
    }
    let first = schemes
        .as_array()
        .and_then(|s| s.first())
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            A2aError::InvalidParams(format!(
                "`{field}.schemes` must be a non-empty array of strings"
            ))
        })?;
    out.insert("scheme".into(), Value::String(first.to_string()));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn schemes_become_scheme() {
        let a = json!({"schemes": ["Bearer", "Basic"], "credentials": "c"});
        let out = authentication_to_v1(a.as_object().unwrap(), "x").expect("convert");
        assert_eq!(
            Value::Object(out),
            json!({"scheme": "Bearer", "credentials": "c"})
        );
        let bad = json!({"schemes": []});
        let err =
            authentication_to_v1(bad.as_object().unwrap(), "x.authentication").expect_err("empty");
        assert!(
            err.to_string().contains("`x.authentication.schemes`"),
            "{err}"
        );
    }
}
