//! Bad requests get a problem naming the parameter; nothing hangs.

use crate::harness::ReadStack;

end_to_end! {
    bad_requests_are_problems_naming_the_parameter on opensearch;
    the_openapi_document_is_generated_from_the_routes on postgres;
}

async fn bad_requests_are_problems_naming_the_parameter(read: ReadStack) {
    let cases = [
        ("/v1/documents/not-a-uuid", 400, "/document_id"),
        (&format!("/v1/documents/{}?session_id=nope", uuid::Uuid::new_v4()), 400, "/session_id"),
        (&format!("/v1/documents/{}?wait=forever", uuid::Uuid::new_v4()), 400, "/wait"),
        (&format!("/v1/documents/{}?colour=red", uuid::Uuid::new_v4()), 400, "/colour"),
        ("/v1/collections/nothing_here/abc", 404, "/collection"),
        ("/v1/collections/Bad-Name", 404, "/collection"),
        ("/v1/collections/businesses/abc", 404, "/key"),
        ("/v1/collections/businesses?limit=0", 400, "/limit"),
        ("/v1/collections/businesses?limit=lots", 400, "/limit"),
        ("/v1/collections/businesses?cursor=garbage", 400, "/cursor"),
        ("/v1/collections/businesses?sort=a.b", 400, "/sort"),
        ("/v1/messages?session_id=x", 400, "/session_id"),
        // Private: never served as a collection, whatever the caller.
        ("/v1/collections/messages", 404, "/collection"),
        ("/v1/collections/messages/abc", 404, "/collection"),
    ];
    for (path, status, pointer) in cases {
        let response = read.get(path).await;
        assert_eq!(response.status().as_u16(), status, "{path}");
        assert_eq!(response.headers()["content-type"], "application/problem+json", "{path}");
        let problem: serde_json::Value = response.json().await.unwrap();
        assert_eq!(problem["errors"][0]["pointer"], pointer, "{path}: {problem}");
    }
    // What needs a live session answers 401 without one, or with one that is not live.
    for path in ["/v1/messages", "/v1/collections/profiles", "/v1/collections/profiles/abc"] {
        let response = read.get(path).await;
        assert_eq!(response.status(), 401, "{path}");
        assert_eq!(response.headers()["www-authenticate"], "Bearer", "{path}");
        let response = read.get_as(&uuid::Uuid::new_v4().to_string(), path).await;
        assert_eq!(response.status(), 401, "{path}");
    }
    // A live session with no messages has an empty list, not an error.
    let session = read.stack.session("quiet").await;
    let (status, body) = read.get_json_as(&session, "/v1/messages").await;
    assert_eq!((status, body["messages"].as_array().map(Vec::len)), (200, Some(0)));
    for path in ["/healthz", "/readyz", "/metrics"] {
        assert_eq!(read.get(path).await.status(), 200, "{path}");
    }
    read.stop().await;
}

async fn the_openapi_document_is_generated_from_the_routes(read: ReadStack) {
    let (status, api) = read.get_json("/openapi.json").await;
    assert_eq!(status, 200);
    assert!(api["openapi"].as_str().is_some_and(|v| v.starts_with("3.1")), "{}", api["openapi"]);
    for path in [
        "/v1/documents/{document_id}",
        "/v1/collections/{collection}/{key}",
        "/v1/collections/{collection}",
        "/v1/messages",
    ] {
        assert!(api["paths"][path]["get"].is_object(), "{path} is documented");
    }
    let statuses = &api["paths"]["/v1/documents/{document_id}"]["get"]["responses"];
    for code in ["200", "400", "401", "404", "503"] {
        assert!(statuses[code].is_object(), "{code} is documented");
    }
    assert!(api["components"]["schemas"]["Outcome"].is_object());
    read.stop().await;
}
