//! The ALB backend against moto's ELBv2: register, deregister and target health across two
//! target groups, the min-healthy view of the peers, and a clear error for a bad target group.

use aws_sdk_elasticloadbalancingv2::types::{ProtocolEnum, TargetDescription, TargetTypeEnum};
use deployer::lb::{Alb, AlbTarget, LoadBalancer, TargetState};

use crate::helpers::{moto, sdk_config};

/// A VPC through moto's EC2 query API (target groups need one). moto does not check signatures;
/// it reads the service from the credential scope, so the header only names EC2.
async fn create_vpc() -> String {
    let body = reqwest::Client::new()
        .post(&moto().endpoint)
        .header(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=test/20250101/us-east-1/ec2/aws4_request, SignedHeaders=host, Signature=0",
        )
        .form(&[("Action", "CreateVpc"), ("Version", "2016-11-15"), ("CidrBlock", "10.0.0.0/16")])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    body.split("<vpcId>").nth(1).and_then(|rest| rest.split("</vpcId>").next()).expect(&body).to_owned()
}

async fn target_group(client: &aws_sdk_elasticloadbalancingv2::Client, vpc: &str, port: i32) -> String {
    let name = format!("tg-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let output = client
        .create_target_group()
        .name(name)
        .protocol(ProtocolEnum::Http)
        .port(port)
        .vpc_id(vpc)
        .target_type(TargetTypeEnum::Ip)
        .health_check_path("/readyz")
        .send()
        .await
        .unwrap();
    output.target_groups()[0].target_group_arn().unwrap().to_owned()
}

#[tokio::test]
async fn register_deregister_and_health_across_target_groups() {
    let config = sdk_config().await;
    let client = aws_sdk_elasticloadbalancingv2::Client::new(&config);
    let vpc = create_vpc().await;
    let groups = vec![target_group(&client, &vpc, 8080).await, target_group(&client, &vpc, 8081).await];
    // A peer instance, already serving in both groups.
    for group in &groups {
        client
            .register_targets()
            .target_group_arn(group)
            .targets(TargetDescription::builder().id("10.0.1.6").port(8080).build())
            .send()
            .await
            .unwrap();
    }
    let me = AlbTarget { id: "10.0.1.5".into(), port: Some(8080) };
    let lb = LoadBalancer::Alb(Alb::from_config(&config, groups.clone(), me).unwrap());

    let health = lb.health().await.unwrap();
    assert_eq!(health.me, TargetState::Unused, "not registered yet");
    assert_eq!((health.others_healthy, health.others), (1, 1));

    lb.register().await.unwrap();
    let health = lb.health().await.unwrap();
    assert!(health.me.is_healthy(), "{:?}", health.me);
    for group in &groups {
        let described = client.describe_target_health().target_group_arn(group).send().await.unwrap();
        let ids: Vec<_> =
            described.target_health_descriptions().iter().filter_map(|d| d.target()?.id()).collect();
        assert!(ids.contains(&"10.0.1.5"), "registered in every group: {ids:?}");
    }

    lb.deregister().await.unwrap();
    let health = lb.health().await.unwrap();
    assert!(health.me.is_out(), "{:?}", health.me);
    assert_eq!(health.others_healthy, 1, "the peer is untouched");
    assert_eq!(lb.in_flight().await.unwrap(), None, "the ALB API cannot report in-flight requests");

    // Alone in a group: no healthy peer, which the min-healthy guard must see.
    let lonely = target_group(&client, &vpc, 8082).await;
    let alone =
        Alb::from_config(&config, vec![lonely], AlbTarget { id: "10.0.1.7".into(), port: Some(8082) })
            .unwrap();
    alone.register().await.unwrap();
    let health = alone.health().await.unwrap();
    assert_eq!((health.others_healthy, health.others), (0, 0));
}

#[tokio::test]
async fn a_missing_target_group_is_a_clear_error() {
    let config = sdk_config().await;
    let arn = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/missing/0123456789abcdef";
    let alb =
        Alb::from_config(&config, vec![arn.into()], AlbTarget { id: "i-1".into(), port: None }).unwrap();
    let err = alb.register().await.unwrap_err().to_string();
    assert!(err.contains("RegisterTargets") && err.contains(arn), "{err}");
    assert!(Alb::from_config(&config, vec![], AlbTarget { id: "i-1".into(), port: None }).is_err());
}
