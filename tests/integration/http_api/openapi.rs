//! The OpenAPI document: served without authentication, the file in the repo, every route
//! documented and every `$ref` resolving.

use super::support::{client, ctype, Dev};
use reqwest::StatusCode;
use serde_json::Value;
use smart_connect_sim::adapters::http::{api_routes, OPENAPI_JSON};

#[tokio::test]
async fn the_openapi_document_lists_every_route_and_is_the_file_in_the_repo() {
    let dev = Dev::new().await;
    let r = client("127.0.0.2")
        .get(dev.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "no authentication needed");
    assert_eq!(ctype(&r), "application/json");
    let served = r.text().await.unwrap();
    let file =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schemas/openapi.json"))
            .unwrap();
    assert_eq!(served, file);
    assert_eq!(served, OPENAPI_JSON);
    let doc: Value = serde_json::from_str(&served).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let routes = api_routes();
    assert!(routes.len() >= 7);
    for (path, method) in &routes {
        assert!(
            doc["paths"][path][method.to_ascii_lowercase()]["responses"].is_object(),
            "{method} {path} is missing from openapi.json"
        );
    }
    let mut documented = Vec::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for m in ops.as_object().unwrap().keys() {
            documented.push((path.clone(), m.to_ascii_uppercase()));
        }
    }
    for (path, method) in &documented {
        assert!(
            routes.iter().any(|(p, m)| p == path && m == method),
            "openapi.json documents {method} {path}, which is not a route"
        );
    }
    // Every $ref resolves.
    let text = served.as_str();
    for piece in text.split("\"$ref\": \"#/").skip(1) {
        let target = &piece[..piece.find('"').unwrap()];
        let mut node = &doc;
        for part in target.split('/') {
            node = &node[part];
        }
        assert!(!node.is_null(), "dangling $ref #/{target}");
    }
}
