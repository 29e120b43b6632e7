//! `GET /openapi.json`: the OpenAPI 3.1 document, generated from the code, served by the app.

use owp_protocol::Registry;
use serde_json::Value;

use crate::helpers::spawn_app;

#[tokio::test]
async fn openapi_json_documents_every_route_and_every_item_type() {
    let app = spawn_app().await;
    let response = app.client.get(app.url("/openapi.json")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let api: Value = response.json().await.unwrap();
    assert!(api["openapi"].as_str().unwrap().starts_with("3.1."), "{}", api["openapi"]);

    for (path, method) in [
        ("/v1/documents", "post"),
        ("/v1/documents/batch", "post"),
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/metrics", "get"),
        ("/openapi.json", "get"),
    ] {
        assert!(api["paths"][path][method].is_object(), "{method} {path} is not documented");
    }

    let documents = &api["paths"]["/v1/documents"]["post"];
    assert_eq!(
        documents["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/Document"
    );
    for status in ["202", "400", "413", "415", "422", "503"] {
        assert!(documents["responses"][status].is_object(), "{status} missing from POST /v1/documents");
    }
    assert!(documents["responses"]["503"]["headers"]["Retry-After"].is_object());
    assert!(documents["responses"]["422"]["content"]["application/problem+json"].is_object());
    let batch = &api["paths"]["/v1/documents/batch"]["post"];
    assert!(batch["requestBody"]["content"]["application/x-ndjson"].is_object(), "{batch}");
    assert!(batch["responses"]["200"]["content"]["application/x-ndjson"].is_object(), "{batch}");

    // The document schema is the registry's: one branch per item type, chosen by item_type.
    let schemas = &api["components"]["schemas"];
    let branches: Vec<&str> = schemas["Document"]["oneOf"]
        .as_array()
        .unwrap()
        .iter()
        .map(|branch| branch["$ref"].as_str().unwrap())
        .collect();
    let registry = Registry::embedded().unwrap();
    for item_type in registry.item_types() {
        let name = format!("Document.{}", item_type.as_str());
        assert!(
            branches.contains(&format!("#/components/schemas/{name}").as_str()),
            "{name} not in {branches:?}"
        );
        assert_eq!(schemas[&name]["properties"]["item_type"]["enum"][0], item_type.as_str());
    }
    assert_eq!(branches.len(), registry.item_types().count());
    assert!(schemas["Problem"]["properties"]["errors"].is_object(), "{}", schemas["Problem"]);
}
