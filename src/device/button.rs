//! The button (BTN-01..04): how long it was held decides what happens when it is released.

use crate::time::{Duration, Instant};
use serde::Serialize;

/// What a press asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ButtonAction {
    /// < 2 s: soft reset, reconnect to the network (BTN-01).
    SoftReset,
    /// 5–10 s in factory settings: access-point mode (BTN-02).
    AccessPoint,
    /// > 10 s: factory reset (BTN-03).
    FactoryReset,
    /// Anything else (BTN-04).
    Nothing,
}

/// Band edges.
pub const SHORT_MAX_MS: Duration = Duration::from_ms(2_000);
pub const AP_MIN_MS: Duration = Duration::from_ms(5_000);
pub const FACTORY_MIN_MS: Duration = Duration::from_ms(10_000);

/// The action for a press held for `held`, given whether the device is in factory settings.
pub fn action(held: Duration, factory_settings: bool) -> ButtonAction {
    if held < SHORT_MAX_MS {
        ButtonAction::SoftReset
    } else if held > FACTORY_MIN_MS {
        ButtonAction::FactoryReset
    } else if held >= AP_MIN_MS && factory_settings {
        ButtonAction::AccessPoint
    } else {
        ButtonAction::Nothing
    }
}

/// Tracks the button between down and up.
#[derive(Debug, Clone, Default)]
pub struct Button {
    down_since: Option<Instant>,
}

impl Button {
    pub fn down(&mut self, now: Instant) {
        self.down_since.get_or_insert(now);
    }

    /// Released: the action, or `None` if it was not pressed.
    pub fn up(&mut self, now: Instant, factory_settings: bool) -> Option<ButtonAction> {
        self.down_since
            .take()
            .map(|t| action(now.elapsed_since(t), factory_settings))
    }

    /// Power loss forgets a press in progress.
    pub fn reset(&mut self) {
        self.down_since = None;
    }
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)]
mod tests {
    use super::*;

    #[test]
    fn bands() {
        assert_eq!(
            action(Duration::from_ms(100), false),
            ButtonAction::SoftReset
        );
        assert_eq!(
            action(Duration::from_ms(1_999), true),
            ButtonAction::SoftReset
        );
        assert_eq!(
            action(Duration::from_ms(2_000), true),
            ButtonAction::Nothing
        );
        assert_eq!(
            action(Duration::from_ms(4_999), true),
            ButtonAction::Nothing
        );
        assert_eq!(
            action(Duration::from_ms(5_000), true),
            ButtonAction::AccessPoint
        );
        assert_eq!(
            action(Duration::from_ms(6_000), false),
            ButtonAction::Nothing
        );
        assert_eq!(
            action(Duration::from_ms(10_000), true),
            ButtonAction::AccessPoint
        );
        assert_eq!(
            action(Duration::from_ms(10_001), false),
            ButtonAction::FactoryReset
        );
    }

    #[test]
    fn press_and_release() {
        let mut b = Button::default();
        assert_eq!(b.up(Instant::from_epoch_ms(5), true), None);
        b.down(Instant::from_epoch_ms(1_000));
        b.down(Instant::from_epoch_ms(1_500));
        assert_eq!(
            b.up(Instant::from_epoch_ms(7_000), true),
            Some(ButtonAction::AccessPoint)
        );
    }
}
