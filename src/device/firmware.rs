//! Firmware updates (FW-01/02): idle → downloading → verifying → installing → rebooting →
//! idle with the new version; an image that fails verification ends `failed` with a reason
//! and the old version keeps running. The scenario declares which images exist.

use super::defect::{Defect, Defects};
use crate::sim::clock::Millis;
use serde::{Deserialize, Serialize};

pub const DOWNLOAD_MS: Millis = 4_000;
pub const VERIFY_MS: Millis = 1_000;
pub const INSTALL_MS: Millis = 3_000;
/// How long the device reports `rebooting` before it restarts into the new image, so a client
/// polling the API can see the state (FW-02).
pub const REBOOT_MS: Millis = 1_000;

/// A firmware image the update server offers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirmwareImage {
    pub version: String,
    /// False: the image fails signature/hash verification.
    #[serde(default = "yes")]
    pub good: bool,
}

fn yes() -> bool {
    true
}

/// Where an update is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum UpdateState {
    Idle,
    Downloading {
        version: String,
        until: Millis,
    },
    Verifying {
        version: String,
        until: Millis,
    },
    Installing {
        version: String,
        until: Millis,
    },
    /// The device reboots into `version` at `until`.
    Rebooting {
        version: String,
        until: Millis,
    },
    Failed {
        version: String,
        reason: String,
    },
}

impl UpdateState {
    /// The state's name as the API reports it.
    pub fn name(&self) -> &'static str {
        match self {
            UpdateState::Idle => "idle",
            UpdateState::Downloading { .. } => "downloading",
            UpdateState::Verifying { .. } => "verifying",
            UpdateState::Installing { .. } => "installing",
            UpdateState::Rebooting { .. } => "rebooting",
            UpdateState::Failed { .. } => "failed",
        }
    }
}

/// The firmware state machine.
#[derive(Debug, Clone)]
pub struct Firmware {
    version: String,
    images: Vec<FirmwareImage>,
    state: UpdateState,
    /// `firmware-accepts-bad-image`: verification always passes.
    skip_verification: bool,
    /// `firmware-second-update-restarts`: a request while one runs starts over.
    restart_running: bool,
}

impl Firmware {
    pub fn new(version: impl Into<String>, images: Vec<FirmwareImage>) -> Self {
        Firmware {
            version: version.into(),
            images,
            state: UpdateState::Idle,
            skip_verification: false,
            restart_running: false,
        }
    }

    /// The same, with the firmware-update defects among `defects` (`defect.rs`).
    pub fn with_defects(mut self, defects: &Defects) -> Self {
        self.skip_verification = defects.contains(&Defect::FirmwareAcceptsBadImage);
        self.restart_running = defects.contains(&Defect::FirmwareSecondUpdateRestarts);
        self
    }

    pub fn version(&self) -> &str {
        &self.version
    }

    pub fn state(&self) -> &UpdateState {
        &self.state
    }

    pub fn images(&self) -> &[FirmwareImage] {
        &self.images
    }

    /// The update server offers `image` from now on (replacing an image of the same version).
    pub fn offer_image(&mut self, image: FirmwareImage) {
        self.images.retain(|i| i.version != image.version);
        self.images.push(image);
    }

    /// Start an update to `version`; refused while one is running.
    pub fn start(&mut self, version: &str, now: Millis) -> Result<(), String> {
        let idle = matches!(self.state, UpdateState::Idle | UpdateState::Failed { .. });
        let restartable =
            self.restart_running && !matches!(self.state, UpdateState::Rebooting { .. });
        if !idle && !restartable {
            return Err(format!("an update is already {}", self.state.name()));
        }
        self.state = UpdateState::Downloading {
            version: version.to_string(),
            // Device time saturates at `Millis::MAX` (the end of time), never wraps.
            until: now.saturating_add(DOWNLOAD_MS),
        };
        Ok(())
    }

    /// Time passed; returns `true` when the device must reboot into the new version now.
    pub fn tick(&mut self, now: Millis) -> bool {
        loop {
            let next = match &self.state {
                UpdateState::Downloading { version, until } if now >= *until => {
                    match self.images.iter().find(|i| &i.version == version) {
                        None => UpdateState::Failed {
                            version: version.clone(),
                            reason: format!("no image for version {version} on the update server"),
                        },
                        Some(_) => UpdateState::Verifying {
                            version: version.clone(),
                            until: until.saturating_add(VERIFY_MS),
                        },
                    }
                }
                UpdateState::Verifying { version, until } if now >= *until => {
                    let good = |i: &FirmwareImage| i.good || self.skip_verification;
                    if self.images.iter().any(|i| &i.version == version && good(i)) {
                        UpdateState::Installing {
                            version: version.clone(),
                            until: until.saturating_add(INSTALL_MS),
                        }
                    } else {
                        UpdateState::Failed {
                            version: version.clone(),
                            reason: "image verification failed: signature does not match".into(),
                        }
                    }
                }
                UpdateState::Installing { version, until } if now >= *until => {
                    UpdateState::Rebooting {
                        version: version.clone(),
                        until: until.saturating_add(REBOOT_MS),
                    }
                }
                _ => break,
            };
            self.state = next;
        }
        matches!(self.state, UpdateState::Rebooting { until, .. } if now >= until)
    }

    /// When `tick` next changes something.
    pub fn deadline(&self) -> Option<Millis> {
        match &self.state {
            UpdateState::Downloading { until, .. }
            | UpdateState::Verifying { until, .. }
            | UpdateState::Installing { until, .. }
            | UpdateState::Rebooting { until, .. } => Some(*until),
            _ => None,
        }
    }

    /// The reboot happened: run the new version.
    pub fn rebooted(&mut self) {
        if let UpdateState::Rebooting { version, .. } = &self.state {
            self.version = version.clone();
            self.state = UpdateState::Idle;
        }
    }

    /// A power loss in the middle of an update abandons it (the old version stays).
    pub fn power_lost(&mut self) {
        if !matches!(self.state, UpdateState::Rebooting { .. }) {
            self.state = UpdateState::Idle;
        }
    }
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)]
mod tests {
    use super::*;

    fn images() -> Vec<FirmwareImage> {
        vec![
            FirmwareImage {
                version: "1.5.0".into(),
                good: true,
            },
            FirmwareImage {
                version: "1.6.0".into(),
                good: false,
            },
        ]
    }

    #[test]
    fn a_good_image_goes_through_every_state() {
        let mut f = Firmware::new("1.4.2", images());
        f.start("1.5.0", 0).unwrap();
        assert_eq!(f.state().name(), "downloading");
        assert!(f.start("1.5.0", 1).is_err());
        assert!(!f.tick(DOWNLOAD_MS));
        assert_eq!(f.state().name(), "verifying");
        assert!(!f.tick(DOWNLOAD_MS + VERIFY_MS));
        assert_eq!(f.state().name(), "installing");
        assert!(!f.tick(DOWNLOAD_MS + VERIFY_MS + INSTALL_MS));
        assert_eq!(f.state().name(), "rebooting");
        assert!(f.tick(DOWNLOAD_MS + VERIFY_MS + INSTALL_MS + REBOOT_MS));
        assert_eq!(f.version(), "1.4.2");
        f.rebooted();
        assert_eq!((f.version(), f.state().name()), ("1.5.0", "idle"));
    }

    #[test]
    fn an_offered_image_can_be_installed() {
        let mut f = Firmware::new("1.4.2", Vec::new());
        f.offer_image(FirmwareImage {
            version: "1.5.0".into(),
            good: false,
        });
        f.offer_image(FirmwareImage {
            version: "1.5.0".into(),
            good: true,
        });
        assert_eq!(f.images().len(), 1);
        f.start("1.5.0", 0).unwrap();
        assert!(f.tick(DOWNLOAD_MS + VERIFY_MS + INSTALL_MS + REBOOT_MS));
        f.rebooted();
        assert_eq!(f.version(), "1.5.0");
    }

    #[test]
    fn planted_defects() {
        let bad = Defects::from([Defect::FirmwareAcceptsBadImage]);
        let mut f = Firmware::new("1.4.2", images()).with_defects(&bad);
        f.start("1.6.0", 0).unwrap();
        assert!(f.tick(DOWNLOAD_MS + VERIFY_MS + INSTALL_MS + REBOOT_MS));
        f.rebooted();
        assert_eq!(f.version(), "1.6.0", "the corrupt image was installed");
        let again = Defects::from([Defect::FirmwareSecondUpdateRestarts]);
        let mut f = Firmware::new("1.4.2", images()).with_defects(&again);
        f.start("1.5.0", 0).unwrap();
        assert!(f.start("1.5.0", 2_000).is_ok(), "not refused");
        assert_eq!(f.deadline(), Some(2_000 + DOWNLOAD_MS));
    }

    #[test]
    fn a_corrupt_image_fails_and_the_old_version_stays() {
        let mut f = Firmware::new("1.4.2", images());
        f.start("1.6.0", 0).unwrap();
        assert!(!f.tick(60_000));
        assert!(
            matches!(f.state(), UpdateState::Failed { reason, .. } if reason.contains("verification"))
        );
        assert_eq!(f.version(), "1.4.2");
        f.start("9.9.9", 60_000).unwrap();
        f.tick(120_000);
        assert!(
            matches!(f.state(), UpdateState::Failed { reason, .. } if reason.contains("no image"))
        );
    }
}
