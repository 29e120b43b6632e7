//! The names of the three OWP topics, as settings: production uses the defaults, tests and
//! benchmarks use their own names so they can run side by side on one broker.

use owp_protocol::TopicName;

#[derive(Debug, Clone, clap::Args)]
pub struct Topics {
    /// Topic of commands: what clients asked for (short retention).
    #[arg(long, env = "OWP_COMMANDS_TOPIC", default_value = TopicName::COMMANDS, global = true)]
    pub commands_topic: TopicName,
    /// Topic of events: the facts, kept forever; the source of truth.
    #[arg(long, env = "OWP_EVENTS_TOPIC", default_value = TopicName::EVENTS, global = true)]
    pub events_topic: TopicName,
    /// Topic that robots copy the messages they gave up on to.
    #[arg(long, env = "OWP_DEADLETTER_TOPIC", default_value = TopicName::DEADLETTER, global = true)]
    pub deadletter_topic: TopicName,
}

impl Default for Topics {
    fn default() -> Self {
        crate::config::defaults()
    }
}

impl Topics {
    /// Three fresh topic names under `prefix` (for tests and benchmarks).
    pub fn prefixed(prefix: &str) -> owp_protocol::Result<Self> {
        Ok(Self {
            commands_topic: TopicName::parse(format!("{prefix}.commands"))?,
            events_topic: TopicName::parse(format!("{prefix}.events"))?,
            deadletter_topic: TopicName::parse(format!("{prefix}.deadletter"))?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_the_three_owp_topics() {
        let topics = Topics::default();
        assert_eq!(topics.commands_topic, TopicName::commands());
        assert_eq!(topics.events_topic, TopicName::events());
        assert_eq!(topics.deadletter_topic, TopicName::deadletter());
    }
}
