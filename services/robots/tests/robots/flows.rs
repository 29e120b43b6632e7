//! The user-visible flows: sign-up, login, documents with and without a valid session, logout.
//! Login throttling is auth's own test (services/auth/tests/abuse.rs), with settings of its own.

use serde_json::{Value, json};

use crate::support::Stack;

#[tokio::test]
async fn signup_login_then_a_business_is_created_with_a_message() {
    let stack = Stack::start().await;
    let user_id = stack.signup("joel", "vegetables are good").await;
    let login = stack.login("joel", "vegetables are good").await;
    assert_eq!(login.status(), 200);
    let session = login.json::<Value>().await.unwrap()["session_id"].as_str().unwrap().to_owned();

    let document =
        stack.post_as(&session, json!({"item_type": "business", "name": "Country Vegetables"})).await;
    let (status, text) = stack.outcome(&document).await;
    assert_eq!((status.as_str(), text.as_str()), ("accepted", "Your new business has been created!"));
    let (owner, name): (uuid::Uuid, String) =
        sqlx::query_as("SELECT owner_user_id, name FROM businesses WHERE business_id = $1::uuid")
            .bind(&document)
            .fetch_one(&stack.pool)
            .await
            .unwrap();
    assert_eq!((owner, name.as_str()), (user_id, "Country Vegetables"));
    let hash: String = sqlx::query_scalar("SELECT password_hash FROM credentials WHERE user_id = $1")
        .bind(user_id)
        .fetch_one(&stack.pool)
        .await
        .unwrap();
    assert!(hash.starts_with("$argon2") && !hash.contains("vegetables"), "{hash}");
    stack.stop().await;
}

#[tokio::test]
async fn a_business_with_a_bogus_session_is_rejected_with_the_reason() {
    let stack = Stack::start().await;
    let document =
        stack.post_as(&uuid::Uuid::new_v4(), json!({"item_type": "business", "name": "Nobody's"})).await;
    let (status, text) = stack.outcome(&document).await;
    assert_eq!(status, "rejected");
    assert!(text.contains("needs a live session"), "{text}");
    let count: i64 =
        sqlx::query_scalar("SELECT count(*) FROM businesses").fetch_one(&stack.pool).await.unwrap();
    assert_eq!(count, 0);
    stack.stop().await;
}

#[tokio::test]
async fn logout_ends_the_session_through_auth_and_through_the_write_point() {
    let stack = Stack::start().await;
    let session = stack.session("allie").await;
    let auth_logout = || stack.client.post(format!("{}/v1/logout", stack.auth)).bearer_auth(&session).send();
    let response = auth_logout().await.unwrap();
    assert_eq!(response.status(), 200);
    let after = stack.post_as(&session, json!({"item_type": "business", "name": "Too late"})).await;
    assert_eq!(stack.outcome(&after).await.0, "rejected");
    let again = auth_logout().await.unwrap();
    assert_eq!(again.status(), 404);

    // The logout document, decided by the logout robot.
    let response = stack.login("allie", "a good password").await;
    let second = response.json::<Value>().await.unwrap()["session_id"].as_str().unwrap().to_owned();
    let logout = stack.post_as(&second, json!({"item_type": "logout"})).await;
    assert_eq!(stack.outcome(&logout).await, ("accepted".to_owned(), "You have been logged out.".to_owned()));
    let ended: bool =
        sqlx::query_scalar("SELECT ended_at IS NOT NULL FROM sessions WHERE session_id = $1::uuid")
            .bind(&second)
            .fetch_one(&stack.pool)
            .await
            .unwrap();
    assert!(ended);
    let twice = stack.post_as(&second, json!({"item_type": "logout"})).await;
    assert_eq!(stack.outcome(&twice).await.0, "rejected");
    stack.stop().await;
}

#[tokio::test]
async fn a_profile_is_created_then_updated() {
    let stack = Stack::start().await;
    let session = stack.session("veblen").await;
    let created = stack
        .post_as(&session, json!({"item_type": "profile", "first_name": "Allie", "last_name": "Veblen"}))
        .await;
    assert_eq!(stack.outcome(&created).await.0, "accepted");
    let update = stack
        .post_as(&session, json!({"item_type": "profile", "profile_id": created, "first_name": "Alison", "last_name": "Veblen", "phone": "01-987-234-9812"}))
        .await;
    assert_eq!(stack.outcome(&update).await.1, "Your profile has been updated.");
    let (first, phone): (String, Option<String>) =
        sqlx::query_as("SELECT first_name, phone FROM profiles WHERE profile_id = $1::uuid")
            .bind(&created)
            .fetch_one(&stack.pool)
            .await
            .unwrap();
    assert_eq!((first.as_str(), phone.as_deref()), ("Alison", Some("01-987-234-9812")));
    let missing = stack
        .post_as(&session, json!({"item_type": "profile", "profile_id": uuid::Uuid::new_v4(), "first_name": "X", "last_name": "Y"}))
        .await;
    assert_eq!(stack.outcome(&missing).await.0, "rejected");
    stack.stop().await;
}

/// Attacks on what others own, through the write point: each is refused with its reason, and
/// nothing changes hands.
#[tokio::test]
async fn nobody_changes_what_is_not_theirs() {
    let stack = Stack::start().await;
    let owner = stack.session("owner").await;
    let attacker = stack.session("attacker").await;
    let profile =
        stack.post_as(&owner, json!({"item_type": "profile", "first_name": "O", "last_name": "W"})).await;
    let business = stack.post_as(&owner, json!({"item_type": "business", "name": "Owner's"})).await;
    assert_eq!(stack.outcome(&profile).await.0, "accepted");
    assert_eq!(stack.outcome(&business).await.0, "accepted");
    let owner_id: uuid::Uuid = sqlx::query_scalar("SELECT user_id FROM users WHERE username = 'owner'")
        .fetch_one(&stack.pool)
        .await
        .unwrap();

    // Profile takeover: another user's session may not update it (and so cannot become its owner).
    let takeover = stack
        .post_as(
            &attacker,
            json!({"item_type": "profile", "profile_id": profile, "first_name": "Mallory", "last_name": "M"}),
        )
        .await;
    assert_eq!(
        stack.outcome(&takeover).await,
        (
            "rejected".to_owned(),
            "We could not save your profile: the profile belongs to someone else.".to_owned()
        )
    );
    // Cross-user write: renaming another user's business.
    let rename = stack
        .post_as(&attacker, json!({"item_type": "business", "business_id": business, "name": "Mallory's"}))
        .await;
    assert_eq!(
        stack.outcome(&rename).await,
        (
            "rejected".to_owned(),
            "We could not save your business: the business belongs to someone else.".to_owned()
        )
    );
    // A made-up session gets nowhere either.
    let forged = stack
        .post_as(
            uuid::Uuid::new_v4(),
            json!({"item_type": "profile", "profile_id": profile, "first_name": "F", "last_name": "F"}),
        )
        .await;
    let (status, text) = stack.outcome(&forged).await;
    assert_eq!(status, "rejected");
    assert!(text.contains("needs a live session"), "{text}");

    let (user, first): (Option<uuid::Uuid>, String) =
        sqlx::query_as("SELECT user_id, first_name FROM profiles WHERE profile_id = $1::uuid")
            .bind(&profile)
            .fetch_one(&stack.pool)
            .await
            .unwrap();
    assert_eq!((user, first.as_str()), (Some(owner_id), "O"));
    let (owner_of, name): (uuid::Uuid, String) =
        sqlx::query_as("SELECT owner_user_id, name FROM businesses WHERE business_id = $1::uuid")
            .bind(&business)
            .fetch_one(&stack.pool)
            .await
            .unwrap();
    assert_eq!((owner_of, name.as_str()), (owner_id, "Owner's"));

    // The owner's own update keeps the owner.
    let own = stack
        .post_as(
            &owner,
            json!({"item_type": "profile", "profile_id": profile, "first_name": "Olive", "last_name": "W"}),
        )
        .await;
    assert_eq!(stack.outcome(&own).await.0, "accepted");
    let user: Option<uuid::Uuid> =
        sqlx::query_scalar("SELECT user_id FROM profiles WHERE profile_id = $1::uuid")
            .bind(&profile)
            .fetch_one(&stack.pool)
            .await
            .unwrap();
    assert_eq!(user, Some(owner_id));
    stack.stop().await;
}

#[tokio::test]
async fn signup_refuses_a_taken_name_and_bad_fields() {
    let stack = Stack::start().await;
    stack.signup("unique", "long enough").await;
    let taken = stack.auth_post("/v1/signup", json!({"username": "unique", "password": "long enough"})).await;
    assert_eq!(taken.status(), 409);
    let bad = stack.auth_post("/v1/signup", json!({"username": "x", "password": "short"})).await;
    assert_eq!(bad.status(), 422);
    let problem: Value = bad.json().await.unwrap();
    let pointers: Vec<_> =
        problem["errors"].as_array().unwrap().iter().map(|e| e["pointer"].as_str().unwrap()).collect();
    assert_eq!(pointers, ["/username", "/password"]);
    let missing = stack.auth_post("/v1/login", json!({"username": "unique"})).await;
    assert_eq!(missing.status(), 422);
    let problem: Value = missing.json().await.unwrap();
    assert_eq!(problem["errors"][0]["pointer"], "/password", "{problem}");
    let wrong_type = stack.auth_post("/v1/signup", json!({"username": 5, "password": "long enough"})).await;
    assert_eq!(wrong_type.status(), 422);
    let problem: Value = wrong_type.json().await.unwrap();
    assert_eq!(problem["errors"][0]["pointer"], "/username", "{problem}");
    // A name that could not have signed up is refused before it reaches PostgreSQL (which
    // cannot store a NUL) or the log (where a login.failed fact naming it could never be applied).
    let nul = stack.login("nul\u{0}name", "long enough").await;
    assert_eq!(nul.status(), 422);
    // A password is measured in characters, as the documented maxLength counts them.
    let long = stack.auth_post("/v1/signup", json!({"username": "long", "password": "é".repeat(1000)})).await;
    assert_eq!(long.status(), 201, "{}", long.text().await.unwrap());
    stack.stop().await;
}
