//! Human-readable durations (`5s`, `250ms`, `1m`) for flags, environment and config files.

use std::time::Duration;

/// `clap` value parser for durations: accepts what `humantime` accepts, refuses zero.
pub fn parse(text: &str) -> Result<Duration, String> {
    let duration = humantime::parse_duration(text)
        .map_err(|err| format!("{text:?} is not a duration like 5s or 250ms ({err})"))?;
    if duration.is_zero() {
        return Err("must be greater than zero".into());
    }
    Ok(duration)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_usual_units() {
        assert_eq!(parse("5s").unwrap(), Duration::from_secs(5));
        assert_eq!(parse("250ms").unwrap(), Duration::from_millis(250));
        assert!(parse("0s").is_err());
        assert!(parse("five").is_err());
    }
}
