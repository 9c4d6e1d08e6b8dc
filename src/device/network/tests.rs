//! Unit tests of the network state machine.
#![allow(clippy::arithmetic_side_effects)]

use super::*;
use crate::time::{at, ms};

const MAC: [u8; 6] = [0x02, 0x58, 0x4D, 0x12, 0x34, 0x56];

#[test]
fn dhcp_answers_on_the_first_attempt() {
    let mut n = Network::start(NetSettings::default(), Lan::default(), MAC, at(0));
    assert!(!n.has_ip());
    assert_eq!(n.deadline(), Some(at(0) + DHCP_ANSWER_MS));
    n.tick(at(0) + DHCP_ANSWER_MS);
    assert_eq!(n.address(), Some(Ipv4Addr::new(192, 168, 1, 50)));
    assert!(n.status().internet);
}

#[test]
fn three_failed_attempts_give_a_link_local_address() {
    let lan = Lan {
        dhcp: false,
        ..Lan::default()
    };
    let mut n = Network::start(NetSettings::default(), lan, MAC, at(0));
    n.tick(at(0) + 2 * DHCP_ATTEMPT_MS);
    assert!(matches!(
        n.status().client,
        ClientState::Dhcp { attempt: 3, .. }
    ));
    n.tick(at(0) + 3 * DHCP_ATTEMPT_MS - ms(1));
    assert!(!n.has_ip());
    n.tick(at(0) + 3 * DHCP_ATTEMPT_MS);
    let a = n.address().unwrap();
    assert_eq!(a.octets()[..2], [169, 254]);
    assert!((1..=254).contains(&a.octets()[2]));
    assert_eq!(a, link_local(&MAC), "deterministic from the MAC");
    assert!(!n.status().internet, "link-local is not routable");
}

#[test]
fn static_address_needs_only_a_link() {
    let s = NetSettings {
        static_ip: Some(StaticIp {
            address: Ipv4Addr::new(10, 0, 0, 7),
            prefix: 24,
            gateway: None,
            dns: None,
        }),
        ..NetSettings::default()
    };
    let n = Network::start(
        s,
        Lan {
            dhcp: false,
            ..Lan::default()
        },
        MAC,
        at(0),
    );
    assert_eq!(n.address(), Some(Ipv4Addr::new(10, 0, 0, 7)));
    let n = Network::start(
        n.settings.clone(),
        Lan {
            ethernet_link: false,
            ..Lan::default()
        },
        MAC,
        at(0),
    );
    assert_eq!(n.status().client, ClientState::NoLink);
}

#[test]
fn wifi_joins_only_a_known_2_4_ghz_network_and_ethernet_is_ignored() {
    let s = NetSettings {
        interface: Interface::WiFi,
        wifi_ssid: "home".into(),
        wifi_password: "secret123".into(),
        static_ip: None,
    };
    let mut lan = Lan::default();
    lan.wifi.push(WifiNetwork {
        ssid: "home".into(),
        password: "secret123".into(),
        band_ghz: 5.0,
        dhcp: true,
    });
    let n = Network::start(s.clone(), lan.clone(), MAC, at(0));
    assert_eq!(n.status().client, ClientState::NoLink, "5 GHz only");
    lan.wifi[0].band_ghz = 2.4;
    let mut n = Network::start(s, lan, MAC, at(0));
    n.tick(at(1000));
    assert_eq!(n.status().interface, Interface::WiFi);
    assert_eq!(n.address(), Some(Ipv4Addr::new(192, 168, 1, 51)));
}

#[test]
fn access_point_switches_off_once_the_wifi_client_connects() {
    let s = NetSettings {
        interface: Interface::WiFi,
        wifi_ssid: "home".into(),
        wifi_password: "secret123".into(),
        static_ip: None,
    };
    let mut n = Network::start(s, Lan::default(), MAC, at(0));
    n.start_access_point("SC-02584D123456".into());
    assert_eq!(n.access_point(), Some("SC-02584D123456"));
    assert!(n.addresses().contains(&AP_ADDRESS));
    let mut lan = Lan::default();
    lan.wifi.push(WifiNetwork {
        ssid: "home".into(),
        password: "secret123".into(),
        band_ghz: 2.4,
        dhcp: true,
    });
    n.set_lan(lan, at(10_000));
    n.tick(at(10_000) + DHCP_ANSWER_MS);
    assert!(n.has_ip());
    assert_eq!(n.access_point(), None);
}

#[test]
fn unplugging_the_cable_drops_the_address_and_replugging_restarts_dhcp() {
    let mut n = Network::start(NetSettings::default(), Lan::default(), MAC, at(0));
    n.tick(at(1000));
    assert!(n.has_ip());
    n.set_lan(
        Lan {
            ethernet_link: false,
            ..Lan::default()
        },
        at(2000),
    );
    assert!(!n.has_ip());
    assert!(!n.status().link);
    n.set_lan(Lan::default(), at(3000));
    assert!(matches!(
        n.status().client,
        ClientState::Dhcp { attempt: 1, .. }
    ));
    n.tick(at(3000) + DHCP_ANSWER_MS);
    assert!(n.has_ip());
}

#[test]
fn a_wifi_network_declared_without_dhcp_has_a_dhcp_server() {
    let w: WifiNetwork =
        serde_json::from_str(r#"{"ssid": "Home", "password": "secret123", "band_ghz": 2.4}"#)
            .unwrap();
    assert!(w.dhcp, "a LAN serves addresses unless told otherwise");
}

#[test]
fn link_local_addresses_stay_in_range() {
    for i in 0..=255u8 {
        let a = link_local(&[2, 0, 0, 0, i, i.wrapping_mul(7)]).octets();
        assert_eq!(a[..2], [169, 254]);
        assert!((1..=254).contains(&a[2]));
    }
}

/// A DHCP server that appears in the middle of an attempt (more than `DHCP_ANSWER_MS` after
/// it started) answers at that instant: before, the deadline stayed at the attempt's answer
/// time, which had already passed, and the next tick went back in time to it.
#[test]
fn a_dhcp_server_appearing_mid_attempt_answers_now() {
    let no_dhcp = Lan {
        dhcp: false,
        ..Lan::default()
    };
    let mut n = Network::start(NetSettings::default(), no_dhcp, MAC, at(0));
    n.set_lan(Lan::default(), at(1_000));
    assert!(n.has_ip(), "answered at 1000");
    assert_eq!(n.deadline(), None);
}

/// Without the link-local fallback (`set_link_local_fallback(false)`) and without DHCP,
/// the retries change nothing: no deadline, so a jump of years in device time takes one
/// step, not one per 4 s attempt; a DHCP server appearing later answers at once.
#[test]
fn endless_retries_are_not_stepped_through() {
    let no_dhcp = Lan {
        dhcp: false,
        ..Lan::default()
    };
    let mut n = Network::start(NetSettings::default(), no_dhcp, MAC, at(0));
    n.set_link_local_fallback(false);
    assert_eq!(n.deadline(), None);
    n.tick(Instant::MAX);
    assert!(!n.has_ip());
    n.set_lan(Lan::default(), at(i64::MAX / 2));
    assert!(n.has_ip());
}

/// At the end of device time an attempt that would end after `Instant::MAX` never ends (a
/// saturated deadline at `Instant::MAX` would otherwise be due forever).
#[test]
fn attempts_at_the_end_of_time_terminate() {
    let no_dhcp = Lan {
        dhcp: false,
        ..Lan::default()
    };
    let mut n = Network::start(NetSettings::default(), no_dhcp, MAC, Instant::MAX - ms(10));
    assert_eq!(n.deadline(), Some(Instant::MAX));
    n.tick(Instant::MAX);
    assert!(!n.has_ip());
}

fn wifi_settings(ssid: &str, password: &str) -> NetSettings {
    NetSettings {
        interface: Interface::WiFi,
        wifi_ssid: ssid.into(),
        wifi_password: password.into(),
        static_ip: None,
    }
}

fn lan_with(networks: &[(&str, &str, f32)]) -> Lan {
    Lan {
        wifi: networks
            .iter()
            .map(|&(ssid, password, band_ghz)| WifiNetwork {
                ssid: ssid.into(),
                password: password.into(),
                band_ghz,
                dhcp: true,
            })
            .collect(),
        ..Lan::default()
    }
}

#[test]
fn a_wifi_network_the_lan_lacks_is_named_with_what_the_lan_offers() {
    let n = Network::start(
        wifi_settings("Home", "secret123"),
        Lan::default(),
        MAC,
        at(0),
    );
    assert_eq!(
        n.problem().as_deref(),
        Some(
            "Wi-Fi network \"Home\" not found (the simulated LAN offers no Wi-Fi networks; \
             add networks with --wifi SSID[:PSK] or a scenario's device.wifi)"
        )
    );
    assert_eq!(n.status().problem, n.problem(), "in the status too");
    let lan = lan_with(&[("Lab", "", 2.4), ("Zolder", "geheim-wachtwoord", 2.4)]);
    let n = Network::start(wifi_settings("Home", "secret123"), lan, MAC, at(0));
    assert_eq!(
        n.problem().as_deref(),
        Some(
            "Wi-Fi network \"Home\" not found (the simulated LAN offers: \"Lab\", \"Zolder\"; \
             add networks with --wifi SSID[:PSK] or a scenario's device.wifi)"
        )
    );
}

#[test]
fn a_wrong_wifi_password_is_the_problem() {
    let lan = lan_with(&[("Home", "the-right-one", 2.4)]);
    let n = Network::start(wifi_settings("Home", "secret123"), lan, MAC, at(0));
    assert_eq!(n.status().client, ClientState::NoLink);
    assert_eq!(
        n.problem().as_deref(),
        Some("Wi-Fi network \"Home\": wrong password")
    );
}

#[test]
fn a_5_ghz_only_network_and_a_missing_ssid_and_cable_are_problems_too() {
    let lan = lan_with(&[("Home", "secret123", 5.0)]);
    let n = Network::start(wifi_settings("Home", "secret123"), lan, MAC, at(0));
    assert_eq!(
        n.problem().as_deref(),
        Some("Wi-Fi network \"Home\" is on 5 GHz only; the device joins only 2.4 GHz networks")
    );
    let n = Network::start(wifi_settings("", ""), Lan::default(), MAC, at(0));
    assert_eq!(
        n.problem().as_deref(),
        Some("Wi-Fi: no network name (SSID) is set")
    );
    let unplugged = Lan {
        ethernet_link: false,
        ..Lan::default()
    };
    let n = Network::start(NetSettings::default(), unplugged, MAC, at(0));
    assert_eq!(
        n.problem().as_deref(),
        Some("Ethernet: no cable (no link to a switch or router)")
    );
}

#[test]
fn a_joined_wifi_network_has_no_problem_and_one_going_away_brings_it_back() {
    let lan = lan_with(&[("Home", "secret123", 2.4)]);
    let mut n = Network::start(wifi_settings("Home", "secret123"), lan, MAC, at(0));
    assert_eq!(n.problem(), None, "asking for an address is no problem");
    n.tick(at(0) + DHCP_ANSWER_MS);
    assert!(n.has_ip());
    assert_eq!(n.problem(), None);
    assert_eq!(n.status().problem, None);
    n.set_lan(Lan::default(), at(1_000));
    assert!(!n.has_ip());
    assert!(
        n.problem()
            .is_some_and(|p| p.contains("\"Home\" not found")),
        "{:?}",
        n.problem()
    );
}

#[test]
fn a_link_local_address_is_no_problem() {
    let no_dhcp = Lan {
        dhcp: false,
        ..Lan::default()
    };
    let mut n = Network::start(NetSettings::default(), no_dhcp, MAC, at(0));
    n.tick(at(0) + 3 * DHCP_ATTEMPT_MS);
    assert!(n.has_ip());
    assert_eq!(n.problem(), None);
}
