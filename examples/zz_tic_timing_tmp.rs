use smart_connect_sim::protocol::{tic, Protocol, Reading};
use std::time::Instant;
fn main() {
    let mut r = Reading::empty(Protocol::TicStandard);
    r.timestamp = Some(1_618_381_585);
    r.meter_id = Some("041776199277".into());
    r.voltage_v = [Some(231.0), Some(229.0), Some(240.0)];
    r.current_a = [Some(7.0), Some(1.0), Some(0.0)];
    r.power_import_w = Some(1620.0);
    r.active_power_phase_w = [Some(1000.0), Some(600.0), Some(20.0)];
    for kind in [tic::TicKind::StandardTri, tic::TicKind::StandardTriProducer, tic::TicKind::HistoricTri] {
        let f = tic::encode(&r, kind);
        let cap = std::fs::read("/work/shared/captures/tic/standard-tri-tempo.txt").unwrap();
        for (name, frame) in [(kind.name(), &f), ("capture tri tempo", &cap)] {
            let n = 200_000;
            let t = Instant::now();
            for _ in 0..n { std::hint::black_box(tic::parse(std::hint::black_box(frame)).unwrap()); }
            println!("{name}: {} bytes, {:.2} µs/parse", frame.len(), t.elapsed().as_secs_f64() * 1e6 / n as f64);
        }
        let t = Instant::now();
        for _ in 0..20000 { std::hint::black_box(tic::encode(std::hint::black_box(&r), kind)); }
        println!("encode {}: {:.2} µs", kind.name(), t.elapsed().as_secs_f64() * 1e6 / 20000.0);
    }
}
