//! Bad requests get a problem naming the parameter; nothing hangs.

use crate::harness::ReadStack;

owp_testkit::end_to_end! {
    bad_requests_are_problems_naming_the_parameter on opensearch;
    cursors_are_signed_for_their_listing_and_sorts_are_declared on postgres;
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
        // Declared sortable fields only (translator.toml's `sortable`).
        ("/v1/collections/businesses?sort=owner", 400, "/sort"),
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

async fn cursors_are_signed_for_their_listing_and_sorts_are_declared(read: ReadStack) {
    let session = read.stack.session("pager").await;
    let mut ids = Vec::new();
    for name in ["Apple", "Banana", "Cherry"] {
        ids.push(
            read.stack.post_as(&session, serde_json::json!({"item_type": "business", "name": name})).await,
        );
    }
    for id in &ids {
        read.document_until("businesses", id, |_| true).await;
    }
    // Paging by a declared field, one at a time, with the cursors handed out.
    let mut names = Vec::new();
    let mut path = "/v1/collections/businesses?sort=name&limit=1".to_owned();
    let mut first_cursor = None;
    loop {
        let (status, page) = read.get_json(&path).await;
        assert_eq!(status, 200, "{path}: {page}");
        names
            .extend(page["items"].as_array().unwrap().iter().map(|b| b["name"].as_str().unwrap().to_owned()));
        let Some(cursor) = page["next_cursor"].as_str() else { break };
        first_cursor.get_or_insert_with(|| cursor.to_owned());
        path = format!("/v1/collections/businesses?sort=name&limit=1&cursor={cursor}");
    }
    assert_eq!(names, ["Apple", "Banana", "Cherry"]);

    // A cursor is refused when forged, altered, or used for another listing.
    let cursor = first_cursor.unwrap();
    let (inner, tag) = cursor.rsplit_once('.').unwrap();
    let forged = owp_readstore::Cursor { sort_value: serde_json::json!("Apple"), key: "x".into() }.encode();
    for (label, path) in [
        ("unsigned", format!("/v1/collections/businesses?sort=name&cursor={inner}")),
        ("forged", format!("/v1/collections/businesses?sort=name&cursor={forged}.{tag}")),
        ("another order", format!("/v1/collections/businesses?sort=-name&cursor={cursor}")),
        ("another collection", format!("/v1/collections/profiles?sort=last_name&cursor={cursor}")),
    ] {
        let response = read.get_as(&session, &path).await;
        assert_eq!(response.status(), 400, "{label}");
        let problem: serde_json::Value = response.json().await.unwrap();
        assert_eq!(problem["errors"][0]["pointer"], "/cursor", "{label}: {problem}");
    }
    read.stop().await;
}
