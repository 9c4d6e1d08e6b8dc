use smart_connect_sim::protocol::{tic, ParseOptions};
#[test]
fn captures() {
    let dir = "/work/shared/captures/tic";
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    for p in names {
        let bytes = std::fs::read(&p).unwrap();
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        if name.contains("stream") {
            let mut i = 0;
            let mut n = 0;
            let mut ok = 0;
            let mut errs = vec![];
            while let Some(s) = bytes[i..].iter().position(|&b| b == 2) {
                let s = i + s;
                let Some(e) = bytes[s..].iter().position(|&b| b == 3) else {
                    println!("{name}: trailing partial frame at {s}");
                    break;
                };
                let e = s + e;
                let fr = &bytes[s..=e];
                n += 1;
                match tic::parse(fr) {
                    Ok(t) => {
                        ok += 1;
                        if ok <= 1 {
                            println!("  first ok: {}", serde_json::to_string(&t.reading).unwrap())
                        }
                    }
                    Err(er) => errs.push(format!("frame@{s}: {er}")),
                }
                i = e + 1;
            }
            println!("{name}: {n} frames, {ok} ok");
            for e in errs {
                println!("   {e}");
            }
        } else {
            match tic::parse_with(&bytes, ParseOptions { keep_raw: true }) {
                Ok(t) => println!(
                    "{name}: OK {} quirks={:?}\n   raw={}",
                    serde_json::to_string(&t.reading).unwrap(),
                    t.quirks,
                    t.raw.len()
                ),
                Err(e) => println!("{name}: ERR {e}"),
            }
        }
    }
}
