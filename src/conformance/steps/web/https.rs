//! WEB-06: HTTPS: the status and the authentication challenge over HTTPS, and the link from
//! the plain page to the secure one.

use super::super::http::{assert_basic_challenge, label_login, request, try_request, Login, Reach};
use super::super::world::DeviceWorld;
use super::open::{assert_config_page, device_addr, page};
use super::{attr, elements, text_of};
use crate::dut::http_client::Method;
use cucumber::then;
use url::Url;

#[then(regex = r#"^over HTTPS the status answers for user "user" with the label password$"#)]
async fn https_status(w: &mut DeviceWorld) {
    let reach = page(w).reach.clone();
    let url = format!("{}/api/v1/status", w.target().web_url(true));
    let login = label_login(w);
    let r = request(&reach, Method::GET, &url, &login, None).await;
    assert_eq!(r.status, 200, "{}: {}", r.what, r.text);
    assert!(r.json_object().get("System").is_some(), "not a status");
}

#[then(
    regex = r"^over HTTPS a request without credentials gets 401 with a Basic authentication challenge$"
)]
async fn https_challenge(w: &mut DeviceWorld) {
    let reach = page(w).reach.clone();
    let url = format!("{}/api/v1/status", w.target().web_url(true));
    let r = request(&reach, Method::GET, &url, &Login::Nobody, None).await;
    assert_basic_challenge(&r);
}

/// A link to `https://…` in the page; or, for a page whose script builds the link (the
/// simulator's: the host name the browser used, and the HTTPS port the page names in
/// `<meta name="sc-https-port">`), a link that says "secure" and that URL.
#[then(regex = r"^the page links to the secure configuration page$")]
fn links_to_secure(w: &mut DeviceWorld) {
    let p = page(w);
    let html = p.html();
    let anchors = elements(html, "a");
    let link = anchors
        .iter()
        .filter_map(|a| attr(&a.open, "href"))
        .find(|h| h.starts_with("https://"))
        .map(|h| Url::parse(&h).unwrap_or_else(|e| panic!("{h}: {e}")))
        .or_else(|| {
            let says_secure = anchors
                .iter()
                .any(|a| text_of(&a.inner).to_lowercase().contains("secure"));
            let port = elements(html, "meta")
                .into_iter()
                .find(|m| attr(&m.open, "name").as_deref() == Some("sc-https-port"))
                .and_then(|m| attr(&m.open, "content"))
                .and_then(|c| c.parse::<u16>().ok());
            match (says_secure, port) {
                (true, Some(port)) => {
                    let mut u = p.url.join("/").expect("URL");
                    u.set_scheme("https").expect("https");
                    u.set_port(Some(port).filter(|p| *p != 443)).expect("port");
                    Some(u)
                }
                _ => None,
            }
        })
        .unwrap_or_else(|| panic!("the page at {} has no link to a secure page", p.url));
    assert_eq!(link.scheme(), "https", "{link}");
    w.http.secure_link = Some(link);
}

#[then(
    regex = r"^following the link gets the Smart Connect configuration page over HTTPS, with a certificate valid for (\S+)$"
)]
async fn follow_secure(w: &mut DeviceWorld, name: String) {
    let link = w.http.secure_link.clone().expect("no secure link found");
    assert_eq!(
        link.host_str(),
        Some(name.as_str()),
        "the link goes to {link}"
    );
    let pem = w.target().https_ca_pem().expect(
        "the target does not give the CA of its HTTPS certificate: the certificate cannot be checked",
    );
    let (_, https_addr) = device_addr(&w.target().web_url(true));
    let reach = Reach {
        ca_pem: Some(pem),
        resolve: Some((name, https_addr)),
        ..Reach::of(w)
    };
    let r = try_request(&reach, Method::GET, link.as_str(), &Login::Nobody, None)
        .await
        .unwrap_or_else(|e| {
            panic!("{link}: no answer, or the certificate is not valid for it: {e}")
        });
    let r = if r.status == 401 {
        let login = label_login(w);
        request(&reach, Method::GET, link.as_str(), &login, None).await
    } else {
        r
    };
    assert_config_page(&r);
}
