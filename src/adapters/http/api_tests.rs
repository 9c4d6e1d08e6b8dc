//! Tests of `api`.

use super::*;

#[test]
fn basic_credentials() {
    let h = |s: &str| {
        HeaderValue::from_str(&format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(s)
        ))
        .unwrap()
    };
    assert_eq!(
        basic_user(Some(&h("user:pw")), "pw").as_deref(),
        Some("user")
    );
    assert_eq!(basic_user(Some(&h("user:pw2")), "pw"), None);
    assert_eq!(basic_user(Some(&h("admin:pw")), "pw"), None);
    assert_eq!(basic_user(Some(&h("userpw")), "pw"), None);
    assert_eq!(
        basic_user(Some(&HeaderValue::from_static("Basic !!!")), "pw"),
        None
    );
    assert_eq!(
        basic_user(Some(&HeaderValue::from_static("Bearer abc")), "pw"),
        None
    );
    assert_eq!(basic_user(None, "pw"), None);
    let lower = HeaderValue::from_str(&format!(
        "basic {}",
        base64::engine::general_purpose::STANDARD.encode("user:a:b")
    ))
    .unwrap();
    assert_eq!(
        basic_user(Some(&lower), "a:b").as_deref(),
        Some("user"),
        "a colon in the password"
    );
}

#[test]
fn firmware_body() {
    assert_eq!(
        firmware_version(&json!({"Version": "1.5.0"})).unwrap(),
        "1.5.0"
    );
    assert!(firmware_version(&json!({"version": "1.5.0"})).is_err());
    assert!(firmware_version(&json!({"Version": 15})).is_err());
    assert!(firmware_version(&json!({"Version": "1.5.0; rm"})).is_err());
    assert!(firmware_version(&json!([])).is_err());
    assert!(firmware_version(&json!({})).is_err());
}

#[test]
fn the_openapi_document_is_json_with_every_route() {
    let doc: Value = serde_json::from_str(OPENAPI_JSON).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    for (path, method) in api_routes() {
        let op = &doc["paths"][path][method.to_ascii_lowercase()];
        assert!(
            op.is_object(),
            "{method} {path} is not in schemas/openapi.json"
        );
    }
}

#[test]
fn a_logged_config_change_never_shows_a_password() {
    let v = serde_json::json!({"MQTT": {"Username": "u", "Password": "hunter2", "Site": "s"}, "WiFi": {"Password": null}});
    let shown = super::redacted(&v).to_string();
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(
        shown.contains("\"Password\":\"***\"") && shown.contains("\"Site\":\"s\""),
        "{shown}"
    );
    assert!(shown.contains("\"WiFi\":{\"Password\":null}"), "{shown}");
}
