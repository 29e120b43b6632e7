//! How every robot batches, retries and names its consumer group.

use std::time::Duration;

use owp_platform::duration;

/// The default of `OWP_GROUP_PREFIX`, which the robots name their groups with and `owp replay`
/// finds them by.
pub const GROUP_PREFIX: &str = "owp.robot.";

#[derive(Debug, Clone, clap::Args)]
pub struct RobotSettings {
    /// Consumer group names are this prefix followed by the robot's name.
    #[arg(long, env = "OWP_GROUP_PREFIX", default_value = GROUP_PREFIX, global = true)]
    pub group_prefix: String,
    /// Most messages handled in one transaction.
    #[arg(long, env = "OWP_ROBOT_BATCH_MAX", default_value_t = 500)]
    pub batch_max_messages: usize,
    /// Longest a batch waits to fill before it is handled. A fetch's messages arrive together,
    /// and the next fetch is at least the fetch wait away, so waiting longer than it takes to
    /// drain one answer mostly adds latency (5 ms here cost 8 ms of p50 from POST to outcome).
    #[arg(long, env = "OWP_ROBOT_BATCH_WAIT", default_value = "1ms", value_parser = duration::parse)]
    pub batch_max_wait: Duration,
    /// Attempts at one failing message before it is parked.
    #[arg(long, env = "OWP_ROBOT_MAX_ATTEMPTS", default_value_t = 3)]
    pub max_attempts: u32,
    /// Longest pause between retries of a batch whose database or broker went away.
    #[arg(long, env = "OWP_ROBOT_MAX_BACKOFF", default_value = "5s", value_parser = duration::parse)]
    pub max_backoff: Duration,
    /// Longest the broker may hold a fetch while it has nothing new; lower means more fetches
    /// while idle. Kafka answers a held fetch once a record arrives, yet on Kafka 3.9 `owp-bench
    /// visibility` measured p99 80–140 ms at 10 ms against 116–257 ms at librdkafka's 500 ms.
    #[arg(long, env = "OWP_ROBOT_FETCH_WAIT", default_value = "10ms", value_parser = duration::parse)]
    pub fetch_max_wait: Duration,
}

impl Default for RobotSettings {
    fn default() -> Self {
        owp_platform::config::defaults()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_the_declared_ones() {
        let settings = RobotSettings::default();
        assert_eq!(settings.group_prefix, GROUP_PREFIX);
        assert_eq!((settings.batch_max_messages, settings.max_attempts), (500, 3));
        assert_eq!(settings.batch_max_wait, Duration::from_millis(1));
        assert_eq!(settings.max_backoff, Duration::from_secs(5));
        assert_eq!(settings.fetch_max_wait, Duration::from_millis(10));
    }
}
