//! The load balancer in front of the instance, as the deployer needs it: take this instance out,
//! put it back, and say how this instance and its peers are doing. Two real backends: the AWS
//! ALB (`alb`) and HAProxy's runtime API (`haproxy`), for hosts outside AWS and for the local
//! fleet with real traffic. `none` is for a single host with nothing in front.

mod alb;
mod haproxy;

use std::{
    fmt,
    sync::atomic::{AtomicBool, Ordering},
};

pub use alb::{Alb, AlbTarget};
pub use haproxy::{Haproxy, HaproxySocket, ServerStat};

use crate::Result;

/// The load balancer's view of one target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetState {
    /// Receiving traffic.
    Healthy,
    /// Registered, waiting for its first passing health checks.
    Initial,
    /// Registered but failing health checks.
    Unhealthy(String),
    /// Deregistered; finishing what it had.
    Draining,
    /// Not registered (or in maintenance): receives nothing.
    Unused,
}

impl TargetState {
    pub fn is_healthy(&self) -> bool {
        matches!(self, Self::Healthy)
    }

    /// Whether the load balancer has stopped sending new requests to it.
    pub fn is_out(&self) -> bool {
        matches!(self, Self::Draining | Self::Unused)
    }
}

impl fmt::Display for TargetState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Healthy => f.write_str("healthy"),
            Self::Initial => f.write_str("initial"),
            Self::Unhealthy(reason) if reason.is_empty() => f.write_str("unhealthy"),
            Self::Unhealthy(reason) => write!(f, "unhealthy ({reason})"),
            Self::Draining => f.write_str("draining"),
            Self::Unused => f.write_str("unused"),
        }
    }
}

/// This instance and its peers, as the load balancer sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetHealth {
    pub me: TargetState,
    /// Healthy targets other than this instance (the smallest count over all target groups).
    pub others_healthy: usize,
    /// Targets other than this instance.
    pub others: usize,
}

/// Which load balancer the instance sits behind.
#[derive(Debug)]
pub enum LoadBalancer {
    Alb(Alb),
    Haproxy(Haproxy),
    /// Nothing in front: register and deregister only flip a flag, so the deploy's gates read
    /// "out" after deregistering and "healthy" after registering (local readiness is checked
    /// separately, before registering).
    None(NoLoadBalancer),
}

/// The state of the `none` load balancer: registered or not.
#[derive(Debug)]
pub struct NoLoadBalancer {
    registered: AtomicBool,
}

impl Default for NoLoadBalancer {
    fn default() -> Self {
        Self { registered: AtomicBool::new(true) }
    }
}

impl LoadBalancer {
    pub async fn register(&self) -> Result<()> {
        match self {
            Self::Alb(alb) => alb.register().await,
            Self::Haproxy(haproxy) => haproxy.register().await,
            Self::None(none) => {
                none.registered.store(true, Ordering::SeqCst);
                Ok(())
            }
        }
    }

    pub async fn deregister(&self) -> Result<()> {
        match self {
            Self::Alb(alb) => alb.deregister().await,
            Self::Haproxy(haproxy) => haproxy.deregister().await,
            Self::None(none) => {
                none.registered.store(false, Ordering::SeqCst);
                Ok(())
            }
        }
    }

    pub async fn health(&self) -> Result<FleetHealth> {
        match self {
            Self::Alb(alb) => alb.health().await,
            Self::Haproxy(haproxy) => haproxy.health().await,
            Self::None(none) => {
                let me = if none.registered.load(Ordering::SeqCst) {
                    TargetState::Healthy
                } else {
                    TargetState::Unused
                };
                Ok(FleetHealth { me, others_healthy: 0, others: 0 })
            }
        }
    }

    /// Requests the load balancer still has in flight to this instance, when it can tell
    /// (HAProxy can; the ALB API cannot).
    pub async fn in_flight(&self) -> Result<Option<u64>> {
        match self {
            Self::Alb(_) | Self::None(_) => Ok(None),
            Self::Haproxy(haproxy) => haproxy.in_flight().await.map(Some),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Self::Alb(alb) => alb.describe(),
            Self::Haproxy(haproxy) => haproxy.describe(),
            Self::None(_) => "no load balancer".into(),
        }
    }
}
