//! Steps for MQ-07: the device logs in to an installer's own broker with a username and a
//! password instead of mTLS. The bench provides the broker and the account (`Target::own_broker`).

use super::world::DeviceWorld;
use cucumber::{given, then, when};
use serde_json::json;

#[given(regex = r"^the installer's own MQTT broker, with an account for the device$")]
fn own_broker(w: &mut DeviceWorld) {
    let b = w
        .target()
        .own_broker()
        .expect("this bench offers no own broker (@needs-own-broker)");
    w.own_broker = Some(b);
}

#[when(
    regex = r"^the MQTT settings are changed to that broker with its (right|wrong) password and the device restarts$"
)]
async fn switch(w: &mut DeviceWorld, which: String) {
    let b = w.own_broker.clone().expect("no own broker");
    let password = if which == "right" {
        b.password.clone()
    } else {
        format!("{}-wrong", b.password)
    };
    let patch = json!({"MQTT": {"Broker": b.url, "Username": b.username, "Password": password}});
    w.target()
        .patch_config(patch)
        .await
        .expect("config")
        .expect("the settings are accepted");
    w.target().reset().await.expect("reset");
    w.boot().await;
}

#[then(regex = r"^measurements from the device arrive on that broker$")]
async fn arrive(w: &mut DeviceWorld) {
    let serial = w.target().label().serial;
    let mut rx = w
        .target()
        .mqtt_subscribe("devices/+/smart-connect/+/data/measurements")
        .await
        .expect("subscribe");
    let exact = w.target().settles_exactly();
    for _ in 0..20 {
        w.pass(1_000).await;
        // Delivery is real socket I/O between the device's client and the broker: on the
        // virtual device, settle (a barrier on the client and the broker); on a real one,
        // give it half a second of real time.
        let got = if exact {
            w.settle().await;
            rx.try_recv().ok()
        } else {
            tokio::time::timeout(std::time::Duration::from_millis(500), rx.recv())
                .await
                .ok()
                .flatten()
        };
        if let Some(m) = got {
            let v = m.json().expect("JSON payload");
            assert_eq!(v["serial"], serial.as_str(), "{v}");
            return;
        }
    }
    panic!("no measurement arrived on the own broker");
}

#[then(regex = r"^the status shows MQTT not connected, with an error naming the refused login$")]
async fn refused(w: &mut DeviceWorld) {
    for _ in 0..30 {
        w.pass(1_000).await;
        // The login attempt of this second has been answered (virtual device).
        w.settle().await;
        let s = w.target().status().await.expect("status");
        let m = &s["MQTT"];
        let e = m["Error"].as_str().unwrap_or_default().to_lowercase();
        if e.contains("password")
            || e.contains("user")
            || e.contains("auth")
            || e.contains("refused")
        {
            assert_eq!(m["Connected"].as_bool(), Some(false), "{m}");
            return;
        }
    }
    let s = w.target().status().await.expect("status");
    panic!("the status never named the refused login: {}", s["MQTT"]);
}
