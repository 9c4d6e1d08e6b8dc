//! Every `curl` example of `docs/http-api.md` run against a device, and the small shell-word
//! parser that reads them.

use super::support::{client, Dev};
use reqwest::{Client, Method};
use smart_connect_sim::adapters::http::api_routes;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// One `curl` line of the doc with the status of its `# expect` line.
#[derive(Debug)]
struct Example {
    line: usize,
    expect: u16,
    args: Vec<String>,
}

/// Split a shell line into words: '…' literal, "…" and bare words with `$VAR` expansion,
/// backslash escapes outside single quotes.
fn shell_words(line: &str, vars: &BTreeMap<&str, String>) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = line.chars().peekable();
    let expand = |chars: &mut std::iter::Peekable<std::str::Chars>, cur: &mut String| {
        let mut name = String::new();
        while let Some(&c) = chars.peek() {
            if c.is_ascii_alphanumeric() || c == '_' {
                name.push(c);
                chars.next();
            } else {
                break;
            }
        }
        cur.push_str(
            vars.get(name.as_str())
                .unwrap_or_else(|| panic!("unknown variable ${name} in {line}")),
        );
    };
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                for c in chars.by_ref() {
                    if c == '\'' {
                        break;
                    }
                    cur.push(c);
                }
            }
            '"' => {
                in_word = true;
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => cur.push(chars.next().unwrap()),
                        '$' => expand(&mut chars, &mut cur),
                        c => cur.push(c),
                    }
                }
            }
            '\\' => {
                in_word = true;
                cur.push(chars.next().unwrap());
            }
            '$' => {
                in_word = true;
                expand(&mut chars, &mut cur);
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    words
}

/// Every `curl` command in the doc's ```sh blocks, with continuation lines joined.
fn examples(doc: &str, vars: &BTreeMap<&str, String>) -> Vec<Example> {
    let mut out = Vec::new();
    let mut in_sh = false;
    let mut expect = None;
    let mut pending: Option<(usize, String)> = None;
    for (i, raw) in doc.lines().enumerate() {
        let line = raw.trim_end();
        if line.starts_with("```") {
            in_sh = line == "```sh" || line == "```bash";
            continue;
        }
        if !in_sh {
            continue;
        }
        let (start, mut text) = match pending.take() {
            Some((start, acc)) => (start, acc + " " + line.trim_start()),
            None => (i + 1, line.trim_start().to_string()),
        };
        if text.ends_with('\\') {
            text.pop();
            pending = Some((start, text));
            continue;
        }
        if let Some(code) = text.strip_prefix("# expect ") {
            expect = Some(code.trim().parse::<u16>().unwrap());
        } else if text.starts_with("curl ") {
            let expect = expect.take().unwrap_or_else(|| {
                panic!("docs/http-api.md:{start}: a curl example without a `# expect` line")
            });
            out.push(Example {
                line: start,
                expect,
                args: shell_words(&text, vars)[1..].to_vec(),
            });
        }
    }
    out
}

#[tokio::test]
async fn every_curl_example_in_the_doc_works() {
    let dev = Dev::new().await;
    let (https, pki) = dev.https().await;
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/http-api.md")).unwrap();
    let vars = BTreeMap::from([("LABEL_PASSWORD", dev.password.clone())]);
    let list = examples(&doc, &vars);
    let mut seen = std::collections::BTreeSet::new();
    let ca = reqwest::Certificate::from_pem(pki.ca_pem().as_bytes()).unwrap();
    smart_connect_sim::adapters::certs::install_crypto_provider();
    let tls_client = Client::builder()
        .local_address("127.0.0.1".parse::<IpAddr>().unwrap())
        .no_proxy()
        .tls_certs_only([ca])
        .build()
        .unwrap();
    for ex in &list {
        if !dev.host.served().serving {
            dev.run_for(10_000);
        }
        let at = format!("docs/http-api.md:{}", ex.line);
        let (mut method, mut url, mut body, mut user, mut cacert) = (None, None, None, None, None);
        let mut headers: Vec<(String, String)> = Vec::new();
        let mut args = ex.args.iter();
        while let Some(a) = args.next() {
            let mut next = || {
                args.next()
                    .unwrap_or_else(|| panic!("{at}: {a} needs a value"))
                    .clone()
            };
            match a.as_str() {
                "-u" | "--user" => user = Some(next()),
                "-X" | "--request" => method = Some(next()),
                "-H" | "--header" => {
                    let h = next();
                    let (k, v) = h
                        .split_once(':')
                        .unwrap_or_else(|| panic!("{at}: bad header {h}"));
                    headers.push((k.trim().to_string(), v.trim().to_string()));
                }
                "-d" | "--data" | "--data-raw" | "--data-binary" => body = Some(next()),
                "--cacert" => cacert = Some(next()),
                "-i" | "-s" | "-S" | "-sS" | "--silent" | "--show-error" | "--include" => {}
                u if u.starts_with("http://") || u.starts_with("https://") => {
                    url = Some(u.to_string())
                }
                other => panic!(
                    "{at}: the test does not know curl's {other}; teach it or change the doc"
                ),
            }
        }
        let url = url.unwrap_or_else(|| panic!("{at}: no URL"));
        // curl's defaults: -d makes a POST with a form content type.
        let method = method.unwrap_or(if body.is_some() {
            "POST".into()
        } else {
            "GET".into()
        });
        if body.is_some()
            && !headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        {
            headers.push((
                "Content-Type".into(),
                "application/x-www-form-urlencoded".into(),
            ));
        }
        let (c, real) = if let Some(rest) = url.strip_prefix("http://127.0.0.1:8080") {
            (client("127.0.0.1"), format!("{}{rest}", dev.http.url()))
        } else if let Some(rest) = url.strip_prefix("https://127.0.0.1:8443") {
            assert_eq!(
                cacert.as_deref(),
                Some("ca.pem"),
                "{at}: HTTPS examples name the CA file"
            );
            (tls_client.clone(), format!("{}{rest}", https.url()))
        } else {
            panic!("{at}: examples use http://127.0.0.1:8080 or https://127.0.0.1:8443, not {url}");
        };
        let mut rb = c.request(Method::from_bytes(method.as_bytes()).unwrap(), &real);
        if let Some(u) = &user {
            let (name, pw) = u.split_once(':').unwrap();
            rb = rb.basic_auth(name, Some(pw));
        }
        for (k, v) in &headers {
            rb = rb.header(k.as_str(), v.as_str());
        }
        if let Some(b) = body {
            rb = rb.body(b);
        }
        let r = rb.send().await.unwrap_or_else(|e| panic!("{at}: {e}"));
        let status = r.status().as_u16();
        if status == 401 {
            assert_eq!(
                r.headers()["www-authenticate"],
                "Basic realm=\"smart-connect\""
            );
        }
        let text = r.text().await.unwrap();
        assert_eq!(
            status, ex.expect,
            "{at}: {method} {url} answered {status}: {text}"
        );
        let path = url
            .split("://")
            .nth(1)
            .and_then(|s| s.find('/').map(|i| s[i..].to_string()))
            .unwrap();
        seen.insert((path, method));
    }
    for (path, method) in api_routes() {
        assert!(
            seen.contains(&(path.to_string(), method.to_string())),
            "docs/http-api.md has no curl example for {method} {path}"
        );
    }
    assert!(
        list.iter().any(|e| e.expect == 401) && list.iter().any(|e| e.expect == 422),
        "error examples too"
    );
    // The examples changed the device as the doc says.
    let c = dev.host.with_device(|d| d.config().to_json());
    assert_eq!(c["MQTT"]["Site"], "site-new");
    assert_eq!(
        c["Ethernet"]["StaticIPv4"]["Netmask"], "24",
        "the 33 example changed nothing"
    );
}

#[test]
fn the_curl_parser_reads_quotes_continuations_and_variables() {
    let vars = BTreeMap::from([("PW", "s3cr:t".to_string())]);
    let doc = "```sh\n# expect 200\ncurl -u \"user:$PW\" -X PATCH \\\n  -H 'Content-Type: a/b' \\\n  -d '{\"A\": \"$x y\"}' http://h/p\n```\n```\ncurl ignored\n```\n";
    let ex = examples(doc, &vars);
    assert_eq!(ex.len(), 1);
    assert_eq!(ex[0].expect, 200);
    assert_eq!(ex[0].line, 3);
    assert_eq!(
        ex[0].args,
        [
            "-u",
            "user:s3cr:t",
            "-X",
            "PATCH",
            "-H",
            "Content-Type: a/b",
            "-d",
            "{\"A\": \"$x y\"}",
            "http://h/p"
        ]
    );
}
