//! Each error class is produced for real and answered with the right status and problem body.

use serde_json::json;

use crate::helpers::{broker_settings, expect_problem, pointers, spawn_app, spawn_app_with};

#[tokio::test]
async fn malformed_json_is_400() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(app.url("/v1/documents"))
        .header("content-type", "application/json")
        .body("{\"item_type\": \"business\", ")
        .send()
        .await
        .unwrap();
    let problem = expect_problem(response, 400).await;
    assert!(problem["detail"].as_str().unwrap().contains("line 1"), "{problem}");
}

#[tokio::test]
async fn a_body_over_the_limit_is_413() {
    let app = spawn_app_with(broker_settings(), |s| s.max_body_bytes = 1024).await;
    let big = json!({"item_type": "business", "name": "x".repeat(2000)});
    let problem = expect_problem(app.post_json(&big).await, 413).await;
    assert!(problem["detail"].as_str().unwrap().contains("1024"), "{problem}");

    // Also when the client does not declare a length (chunked body).
    let chunks = futures::stream::iter(vec![Ok::<_, std::io::Error>(big.to_string().into_bytes())]);
    let response = app
        .client
        .post(app.url("/v1/documents"))
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    expect_problem(response, 413).await;
}

#[tokio::test]
async fn the_default_limit_is_one_mebibyte() {
    let app = spawn_app().await;
    let big = json!({"item_type": "business", "name": "x".repeat(1024 * 1024)});
    expect_problem(app.post_json(&big).await, 413).await;
}

#[tokio::test]
async fn a_wrong_content_type_is_415() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(app.url("/v1/documents"))
        .header("content-type", "text/plain")
        .body(json!({"item_type": "business", "name": "x"}).to_string())
        .send()
        .await
        .unwrap();
    let problem = expect_problem(response, 415).await;
    assert!(problem["detail"].as_str().unwrap().contains("application/json"), "{problem}");
    let missing = app.client.post(app.url("/v1/documents")).body("{}").send().await.unwrap();
    expect_problem(missing, 415).await;
}

#[tokio::test]
async fn a_schema_violation_is_422_naming_each_field() {
    let app = spawn_app().await;
    let response = app
        .post_json(&json!({"item_type": "profile", "first_name": 42, "phone": "call me", "shoe_size": 9}))
        .await;
    let problem = expect_problem(response, 422).await;
    let found = pointers(&problem);
    for field in ["/first_name", "/last_name", "/phone", "/shoe_size"] {
        assert!(found.iter().any(|p| p == field), "{field} not named in {problem}");
    }
}

#[tokio::test]
async fn a_bad_document_id_is_422_at_its_pointer() {
    let app = spawn_app().await;
    let response =
        app.post_json(&json!({"item_type": "business", "document_id": "f02343dl", "name": "x"})).await;
    let problem = expect_problem(response, 422).await;
    assert_eq!(pointers(&problem), ["/document_id"]);
}

#[tokio::test]
async fn an_unknown_item_type_is_422() {
    let app = spawn_app().await;
    let problem =
        expect_problem(app.post_json(&json!({"item_type": "spaceship", "name": "x"})).await, 422).await;
    assert_eq!(pointers(&problem), ["/item_type"]);
    let problem = expect_problem(app.post_json(&json!({"name": "x"})).await, 422).await;
    assert_eq!(pointers(&problem), ["/item_type"]);
}

#[tokio::test]
async fn unknown_routes_and_methods_are_problems_too() {
    let app = spawn_app().await;
    expect_problem(app.client.get(app.url("/v1/nothing")).send().await.unwrap(), 404).await;
    expect_problem(app.client.get(app.url("/v1/documents")).send().await.unwrap(), 405).await;
}

#[tokio::test]
async fn a_session_in_the_document_or_the_url_is_400_naming_the_header() {
    let app = spawn_app().await;
    let document = json!({"item_type": "business", "session_id": app.session, "name": "x"});
    let problem = expect_problem(app.post_json(&document).await, 400).await;
    assert_eq!(problem["type"], "/problems/credential-in-document", "{problem}");
    assert_eq!(pointers(&problem), ["/session_id"]);
    assert!(problem["detail"].as_str().unwrap().contains("Authorization: Bearer"), "{problem}");

    let response = app
        .client
        .post(app.url(&format!("/v1/documents?session_id={}", app.session)))
        .header("content-type", "application/json")
        .body(json!({"item_type": "business", "name": "x"}).to_string())
        .send()
        .await
        .unwrap();
    let problem = expect_problem(response, 400).await;
    assert_eq!(problem["type"], "/problems/credential-in-url", "{problem}");
    assert!(problem["detail"].as_str().unwrap().contains("Authorization: Bearer"), "{problem}");
}

#[tokio::test]
async fn what_needs_a_session_without_one_is_401() {
    let app = spawn_app().await;
    for document in [
        json!({"item_type": "business", "name": "x"}),
        json!({"item_type": "logout"}),
        // An update of a profile: only its owner may, so never anonymously.
        json!({"item_type": "profile", "profile_id": uuid::Uuid::new_v4(), "first_name": "A", "last_name": "B"}),
    ] {
        let response = app.post_json_as(None, &document).await;
        assert_eq!(response.headers()["www-authenticate"], "Bearer");
        let problem = expect_problem(response, 401).await;
        assert!(
            problem["detail"].as_str().unwrap().contains("Authorization: Bearer"),
            "{document}: {problem}"
        );
    }
    // A new profile may come without one, as its schema declares.
    let anonymous = json!({"item_type": "profile", "first_name": "A", "last_name": "B"});
    assert_eq!(app.post_json_as(None, &anonymous).await.status(), 202);
    // A credential that is not a bearer session id is refused, not ignored.
    let response = app
        .client
        .post(app.url("/v1/documents"))
        .header("authorization", "Basic dXNlcjpwYXNz")
        .header("content-type", "application/json")
        .body(anonymous.to_string())
        .send()
        .await
        .unwrap();
    expect_problem(response, 401).await;
}
