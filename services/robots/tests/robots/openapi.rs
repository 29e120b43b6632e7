//! Auth's `GET /openapi.json`: the OpenAPI 3.1 document, generated from the code, as served.

use serde_json::Value;

use crate::support::Stack;

#[tokio::test]
async fn auth_serves_its_openapi_document() {
    let stack = Stack::start().await;
    let response = stack.client.get(format!("{}/openapi.json", stack.auth)).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let api: Value = response.json().await.unwrap();
    assert!(api["openapi"].as_str().unwrap().starts_with("3.1."), "{}", api["openapi"]);

    let statuses = |path: &str| -> Vec<String> {
        let responses = api["paths"][path]["post"]["responses"].as_object();
        responses.unwrap_or_else(|| panic!("POST {path} is not documented")).keys().cloned().collect()
    };
    assert_eq!(statuses("/v1/signup"), ["201", "400", "409", "413", "415", "422", "500", "503"]);
    assert_eq!(statuses("/v1/login"), ["200", "400", "401", "413", "415", "422", "429", "500", "503"]);
    assert_eq!(statuses("/v1/logout"), ["200", "400", "401", "404", "413", "503"]);
    for path in ["/healthz", "/readyz", "/metrics", "/openapi.json"] {
        assert!(api["paths"][path]["get"].is_object(), "GET {path} is not documented");
    }
    let login = &api["paths"]["/v1/login"]["post"];
    assert!(login["responses"]["429"]["headers"]["Retry-After"].is_object(), "{login}");
    let credentials = &api["components"]["schemas"]["Credentials"];
    assert_eq!(credentials["required"], serde_json::json!(["username", "password"]), "{credentials}");
    assert_eq!(credentials["properties"]["password"]["minLength"], 8, "{credentials}");
    stack.stop().await;
}
