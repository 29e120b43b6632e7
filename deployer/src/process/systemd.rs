//! systemd units, driven with `systemctl` over the system bus (the image's polkit rule lets the
//! deployer's user manage exactly the `owp-*` units). The units' `ExecStart` points into
//! `/opt/owp/current`, so stopping, flipping the symlink and starting runs the new release.

use tokio::process::Command;

use crate::{Error, Result};

#[derive(Debug, Clone)]
pub struct Systemd {
    units: Vec<String>,
}

impl Systemd {
    pub fn new(units: Vec<String>) -> Result<Self> {
        if units.is_empty() {
            return Err(Error::Config("the systemd process manager needs at least one unit".into()));
        }
        if let Some(bad) = units.iter().find(|unit| !unit.ends_with(".service") || unit.contains('/')) {
            return Err(Error::Config(format!(
                "{bad:?} is not a systemd service unit name (like owp-writepoint.service)"
            )));
        }
        Ok(Self { units })
    }

    pub async fn stop(&self) -> Result<()> {
        self.systemctl("stop").await
    }

    /// Starts the units, first clearing what an earlier release left: a release whose service
    /// crash-looped leaves its unit at its start rate limit (StartLimitBurst), and systemd
    /// would refuse the rollback's start for failures that were not the rollback's.
    pub async fn start(&self) -> Result<()> {
        self.systemctl("reset-failed").await?;
        self.systemctl("start").await
    }

    pub async fn running(&self) -> Result<bool> {
        for unit in &self.units {
            let status = Command::new("systemctl")
                .args(["is-active", "--quiet", unit])
                .status()
                .await
                .map_err(|err| Error::Process(format!("cannot run systemctl: {err}")))?;
            if !status.success() {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// The `systemctl` invocation for an action, for the log and for tests.
    pub fn command_line(&self, action: &str) -> Vec<String> {
        let mut args = vec!["systemctl".to_owned(), "--no-ask-password".to_owned(), action.to_owned()];
        args.extend(self.units.iter().cloned());
        args
    }

    async fn systemctl(&self, action: &str) -> Result<()> {
        let line = self.command_line(action);
        let output = Command::new(&line[0])
            .args(&line[1..])
            .output()
            .await
            .map_err(|err| Error::Process(format!("cannot run systemctl: {err}")))?;
        if output.status.success() {
            Ok(())
        } else {
            Err(Error::Process(format!(
                "`{}` failed ({}): {}",
                line.join(" "),
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            )))
        }
    }

    pub fn describe(&self) -> String {
        format!("systemd units {}", self.units.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_names_are_checked() {
        assert!(Systemd::new(vec![]).is_err());
        assert!(Systemd::new(vec!["owp-writepoint".into()]).is_err());
        let systemd =
            Systemd::new(vec!["owp-writepoint.service".into(), "owp-robots.service".into()]).unwrap();
        assert_eq!(
            systemd.command_line("stop").join(" "),
            "systemctl --no-ask-password stop owp-writepoint.service owp-robots.service"
        );
    }
}
