//! Firmware updates (FW-01/02): idle → downloading → verifying → installing → rebooting →
//! idle with the new version; an image that fails verification ends `failed` with a reason
//! (also the status's `System.FirmwareError`) and the old version keeps running.
//!
//! The update server offers a known list of images: by default the factory firmware's
//! successors (`DEFAULT_OFFERED`: 1.4.3 and 1.5.0, both good); a scenario or the bench rig
//! stages more, good or corrupt. A version the server does not offer is refused at once
//! (`UpdateRefused::NotOffered`, listing the offered ones), as is a request while an update
//! runs (`UpdateRefused::Running`).

use crate::time::{Duration, Instant};
use serde::{Deserialize, Serialize};

pub const DOWNLOAD_MS: Duration = Duration::from_ms(4_000);
pub const VERIFY_MS: Duration = Duration::from_ms(1_000);
pub const INSTALL_MS: Duration = Duration::from_ms(3_000);
/// How long the device reports `rebooting` before it restarts into the new image, so a client
/// polling the API can see the state (FW-02).
pub const REBOOT_MS: Duration = Duration::from_ms(1_000);

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

/// The versions the simulated update server offers unless told otherwise: the factory
/// firmware's (1.4.2) next patch and next minor release.
pub const DEFAULT_OFFERED: [&str; 2] = ["1.4.3", "1.5.0"];

/// A version as an update request may name it: 1..32 characters `A-Z a-z 0-9 . - + _`
/// (the rule of `POST /api/v1/firmware` and of the MQTT `cmd/firmware-update`).
pub fn is_version_text(s: &str) -> bool {
    (1..=32).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-+_".contains(&b))
}

/// `DEFAULT_OFFERED` as good images.
pub fn default_images() -> Vec<FirmwareImage> {
    DEFAULT_OFFERED
        .iter()
        .map(|v| FirmwareImage {
            version: (*v).to_string(),
            good: true,
        })
        .collect()
}

/// Add `image` to `images`, replacing an image of the same version where it stands.
pub fn offer(images: &mut Vec<FirmwareImage>, image: FirmwareImage) {
    match images.iter_mut().find(|i| i.version == image.version) {
        Some(old) => *old = image,
        None => images.push(image),
    }
}

/// Why an update request is refused (nothing starts).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpdateRefused {
    /// The update server does not offer `version`.
    #[error("version {version:?} is not offered by the update server; {}", offered_text(.offered))]
    NotOffered {
        version: String,
        offered: Vec<String>,
    },
    /// An update is running (`state` is its state's name).
    #[error("an update is already {state}")]
    Running { state: &'static str },
}

fn offered_text(offered: &[String]) -> String {
    match offered {
        [] => "it offers none at the moment".into(),
        _ => format!("offered: {}", offered.join(", ")),
    }
}

/// Where an update is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum UpdateState {
    Idle,
    Downloading {
        version: String,
        until: Instant,
    },
    Verifying {
        version: String,
        until: Instant,
    },
    Installing {
        version: String,
        until: Instant,
    },
    /// The device reboots into `version` at `until`.
    Rebooting {
        version: String,
        until: Instant,
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
    /// Whether images are checked against their signature before installing (FW-02); off
    /// only on a development board that installs anything.
    verify_signature: bool,
}

impl Firmware {
    pub fn new(version: impl Into<String>, images: Vec<FirmwareImage>) -> Self {
        Firmware {
            version: version.into(),
            images,
            state: UpdateState::Idle,
            verify_signature: true,
        }
    }

    /// The same, checking image signatures (`true`, FW-02) or installing any image (`false`).
    pub fn with_signature_check(mut self, verify: bool) -> Self {
        self.verify_signature = verify;
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
        offer(&mut self.images, image);
    }

    /// The versions the update server offers, in the order it lists them.
    pub fn offered(&self) -> Vec<String> {
        self.images.iter().map(|i| i.version.clone()).collect()
    }

    /// Why the last update failed (`update to 1.6.0 failed: …`), while the state is `failed`;
    /// `None` otherwise (a new update clears it).
    pub fn last_error(&self) -> Option<String> {
        match &self.state {
            UpdateState::Failed { version, reason } => {
                Some(format!("update to {version} failed: {reason}"))
            }
            _ => None,
        }
    }

    /// Start an update to `version`; refused when the update server does not offer it, and
    /// while an update is running.
    pub fn start(&mut self, version: &str, now: Instant) -> Result<(), UpdateRefused> {
        if !self.images.iter().any(|i| i.version == version) {
            return Err(UpdateRefused::NotOffered {
                version: version.to_string(),
                offered: self.offered(),
            });
        }
        let idle = matches!(self.state, UpdateState::Idle | UpdateState::Failed { .. });
        if !idle {
            return Err(UpdateRefused::Running {
                state: self.state.name(),
            });
        }
        self.state = UpdateState::Downloading {
            version: version.to_string(),
            // Device time saturates at `Instant::MAX` (the end of time), never wraps.
            until: now.saturating_add(DOWNLOAD_MS),
        };
        Ok(())
    }

    /// Time passed; returns `true` when the device must reboot into the new version now.
    pub fn tick(&mut self, now: Instant) -> bool {
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
                    let good = |i: &FirmwareImage| i.good || !self.verify_signature;
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
    pub fn deadline(&self) -> Option<Instant> {
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
    use crate::time::at;

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
        f.start("1.5.0", at(0)).unwrap();
        assert_eq!(f.state().name(), "downloading");
        assert!(f.start("1.5.0", at(1)).is_err());
        assert!(!f.tick(at(0) + DOWNLOAD_MS));
        assert_eq!(f.state().name(), "verifying");
        assert!(!f.tick(at(0) + DOWNLOAD_MS + VERIFY_MS));
        assert_eq!(f.state().name(), "installing");
        assert!(!f.tick(at(0) + DOWNLOAD_MS + VERIFY_MS + INSTALL_MS));
        assert_eq!(f.state().name(), "rebooting");
        assert!(f.tick(at(0) + DOWNLOAD_MS + VERIFY_MS + INSTALL_MS + REBOOT_MS));
        assert_eq!(f.version(), "1.4.2");
        f.rebooted();
        assert_eq!((f.version(), f.state().name()), ("1.5.0", "idle"));
    }

    #[test]
    fn an_image_declared_without_good_is_a_good_one() {
        let img: FirmwareImage = serde_json::from_str(r#"{"version": "1.5.0"}"#).unwrap();
        assert!(
            img.good,
            "a scenario's offer without `good` is a signed, working image"
        );
        let bad: FirmwareImage =
            serde_json::from_str(r#"{"version": "1.5.0", "good": false}"#).unwrap();
        assert!(!bad.good);
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
        assert_eq!(f.offered(), ["1.5.0"]);
        f.start("1.5.0", at(0)).unwrap();
        assert!(f.tick(at(0) + DOWNLOAD_MS + VERIFY_MS + INSTALL_MS + REBOOT_MS));
        f.rebooted();
        assert_eq!(f.version(), "1.5.0");
    }

    #[test]
    fn without_the_signature_check_any_image_installs() {
        let mut f = Firmware::new("1.4.2", images()).with_signature_check(false);
        f.start("1.6.0", at(0)).unwrap();
        assert!(f.tick(at(0) + DOWNLOAD_MS + VERIFY_MS + INSTALL_MS + REBOOT_MS));
        f.rebooted();
        assert_eq!(f.version(), "1.6.0", "the unsigned image was installed");
    }

    #[test]
    fn a_corrupt_image_fails_and_the_old_version_stays() {
        let mut f = Firmware::new("1.4.2", images());
        f.start("1.6.0", at(0)).unwrap();
        assert!(!f.tick(at(60_000)));
        assert!(
            matches!(f.state(), UpdateState::Failed { reason, .. } if reason.contains("verification"))
        );
        assert_eq!(f.version(), "1.4.2");
        let why = f.last_error().unwrap();
        assert!(
            why.starts_with("update to 1.6.0 failed: image verification failed"),
            "{why}"
        );
        // A new update clears the reason.
        f.start("1.5.0", at(60_000)).unwrap();
        assert_eq!(f.last_error(), None);
    }

    #[test]
    fn a_version_not_offered_is_refused_at_once_listing_the_offered_ones() {
        let mut f = Firmware::new("1.4.2", images());
        let e = f.start("banana", at(0)).unwrap_err();
        assert_eq!(
            e,
            UpdateRefused::NotOffered {
                version: "banana".into(),
                offered: vec!["1.5.0".into(), "1.6.0".into()],
            }
        );
        assert_eq!(
            e.to_string(),
            "version \"banana\" is not offered by the update server; offered: 1.5.0, 1.6.0"
        );
        assert_eq!((f.state().name(), f.last_error()), ("idle", None));
        // Also while an update runs: the version is named before the busy state.
        f.start("1.5.0", at(0)).unwrap();
        assert!(matches!(
            f.start("9.9.9", at(1)),
            Err(UpdateRefused::NotOffered { .. })
        ));
        assert_eq!(
            f.start("1.5.0", at(1)),
            Err(UpdateRefused::Running {
                state: "downloading"
            })
        );
        let none = Firmware::new("1.4.2", Vec::new()).start("1.5.0", at(0));
        assert!(none
            .unwrap_err()
            .to_string()
            .ends_with("it offers none at the moment"));
    }

    #[test]
    fn the_default_offer_is_the_factory_firmwares_successors() {
        let f = Firmware::new(crate::device::FACTORY_FIRMWARE, default_images());
        assert_eq!(f.offered(), DEFAULT_OFFERED);
        assert!(f.images().iter().all(|i| i.good));
        // A re-staged image keeps its place in the list.
        let mut images = default_images();
        offer(
            &mut images,
            FirmwareImage {
                version: "1.4.3".into(),
                good: false,
            },
        );
        assert_eq!(images[0].version, "1.4.3");
        assert!(!images[0].good);
    }
}
