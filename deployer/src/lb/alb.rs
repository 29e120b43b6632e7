//! The AWS Application Load Balancer, through `aws-sdk-elasticloadbalancingv2`: register and
//! deregister this instance in every target group it serves, and read target health.
//!
//! The ALB API cannot tell how many requests a target still has in flight, so draining against
//! the ALB waits for the target to show `draining` and then a short settle time (see `deploy`),
//! never the target group's full deregistration delay.

use aws_sdk_elasticloadbalancingv2::{
    Client,
    types::{TargetDescription, TargetHealthStateEnum},
};

use super::{FleetHealth, TargetState};
use crate::{Error, Result, aws::AwsSettings};

/// This instance as a target: an instance id (or IP), and a port when the target groups do not
/// use their own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlbTarget {
    pub id: String,
    pub port: Option<i32>,
}

#[derive(Debug, Clone)]
pub struct Alb {
    client: Client,
    target_groups: Vec<String>,
    target: AlbTarget,
}

impl Alb {
    pub async fn connect(aws: &AwsSettings, target_groups: Vec<String>, target: AlbTarget) -> Result<Self> {
        Self::from_config(&crate::aws::sdk_config(aws).await, target_groups, target)
    }

    pub fn from_config(
        config: &aws_config::SdkConfig,
        target_groups: Vec<String>,
        target: AlbTarget,
    ) -> Result<Self> {
        if target_groups.is_empty() {
            return Err(Error::Config(
                "the ALB needs at least one target group ARN (--target-group-arns)".into(),
            ));
        }
        Ok(Self { client: Client::new(config), target_groups, target })
    }

    fn description(&self) -> TargetDescription {
        TargetDescription::builder().id(&self.target.id).set_port(self.target.port).build()
    }

    pub async fn register(&self) -> Result<()> {
        for group in &self.target_groups {
            self.client
                .register_targets()
                .target_group_arn(group)
                .targets(self.description())
                .send()
                .await
                .map_err(|err| elb_error("RegisterTargets", group, &err))?;
        }
        Ok(())
    }

    pub async fn deregister(&self) -> Result<()> {
        for group in &self.target_groups {
            self.client
                .deregister_targets()
                .target_group_arn(group)
                .targets(self.description())
                .send()
                .await
                .map_err(|err| elb_error("DeregisterTargets", group, &err))?;
        }
        Ok(())
    }

    /// This target's worst state over all its groups, and the smallest number of healthy peers.
    pub async fn health(&self) -> Result<FleetHealth> {
        let mut me: Option<TargetState> = None;
        let mut others_healthy = usize::MAX;
        let mut others = 0;
        for group in &self.target_groups {
            let output = self
                .client
                .describe_target_health()
                .target_group_arn(group)
                .send()
                .await
                .map_err(|err| elb_error("DescribeTargetHealth", group, &err))?;
            let mut my_state = TargetState::Unused;
            let (mut healthy, mut total) = (0, 0);
            for description in output.target_health_descriptions() {
                let Some(target) = description.target() else { continue };
                let state = state_of(description.target_health());
                let mine = target.id() == Some(self.target.id.as_str())
                    && (self.target.port.is_none() || target.port() == self.target.port);
                if mine {
                    my_state = state;
                } else {
                    total += 1;
                    healthy += usize::from(state.is_healthy());
                }
            }
            others_healthy = others_healthy.min(healthy);
            others = others.max(total);
            me = Some(match me {
                None => my_state,
                Some(previous) => worse(previous, my_state),
            });
        }
        Ok(FleetHealth { me: me.unwrap_or(TargetState::Unused), others_healthy, others })
    }

    pub fn describe(&self) -> String {
        format!("ALB target {} in {} target group(s)", self.target.id, self.target_groups.len())
    }
}

fn state_of(health: Option<&aws_sdk_elasticloadbalancingv2::types::TargetHealth>) -> TargetState {
    let reason = health
        .and_then(|h| h.description().or(h.reason().map(|r| r.as_str())))
        .unwrap_or_default()
        .to_owned();
    match health.and_then(|h| h.state()) {
        Some(TargetHealthStateEnum::Healthy) => TargetState::Healthy,
        Some(TargetHealthStateEnum::Initial) => TargetState::Initial,
        Some(TargetHealthStateEnum::Draining) => TargetState::Draining,
        Some(TargetHealthStateEnum::Unused) | None => TargetState::Unused,
        Some(other) => {
            TargetState::Unhealthy(if reason.is_empty() { other.as_str().to_owned() } else { reason })
        }
    }
}

/// Of two states of the same target in two groups, the one that keeps it from serving.
fn worse(a: TargetState, b: TargetState) -> TargetState {
    fn rank(state: &TargetState) -> u8 {
        match state {
            TargetState::Healthy => 0,
            TargetState::Initial => 1,
            TargetState::Unhealthy(_) => 2,
            TargetState::Draining => 3,
            TargetState::Unused => 4,
        }
    }
    if rank(&b) > rank(&a) { b } else { a }
}

fn elb_error<E>(
    operation: &str,
    group: &str,
    err: &aws_sdk_elasticloadbalancingv2::error::SdkError<E>,
) -> Error
where
    E: aws_sdk_elasticloadbalancingv2::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    let detail = match err.as_service_error() {
        Some(service) => {
            format!("{}: {}", service.code().unwrap_or("error"), service.message().unwrap_or_default())
        }
        None => {
            let mut text = err.to_string();
            let mut source = std::error::Error::source(err);
            while let Some(cause) = source {
                text.push_str(": ");
                text.push_str(&cause.to_string());
                source = cause.source();
            }
            text
        }
    };
    Error::LoadBalancer(format!("{operation} on {group}: {detail}"))
}
