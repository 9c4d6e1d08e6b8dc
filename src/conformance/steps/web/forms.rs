//! WEB-03..05: the forms, their choices, fields, buttons and notes, and what the Wi-Fi form
//! offers.

use super::super::world::DeviceWorld;
use super::html::{controls, field, headings, quoted_list};
use super::open::{form, page};
use super::{attr, elements, text_of};
use cucumber::then;

/// The form headed `title`: the form around the heading, or the first form after it.
#[then(regex = r#"^the page has a form "(.+)"$"#)]
fn has_form(w: &mut DeviceWorld, title: String) {
    let html = page(w).html().to_string();
    let h = headings(&html)
        .into_iter()
        .find(|h| text_of(&h.inner).eq_ignore_ascii_case(&title))
        .unwrap_or_else(|| panic!("the page has no heading {title:?}"));
    let forms = elements(&html, "form");
    let around = forms
        .iter()
        .find(|f| f.at < h.at && h.at < f.at + f.open.len() + f.inner.len());
    let f = around
        .or_else(|| forms.iter().find(|f| f.at > h.at))
        .unwrap_or_else(|| panic!("no form under the heading {title:?}"));
    w.http.form = Some(f.inner.clone());
}

#[then(regex = r#"^the form offers a choice between "(.+)" and "(.+)"$"#)]
fn choice(w: &mut DeviceWorld, a: String, b: String) {
    let f = form(w);
    let (fa, fb) = (field(f, &a), field(f, &b));
    for x in [&fa, &fb] {
        assert_eq!(
            attr(&x.control.open, "type").as_deref(),
            Some("radio"),
            "{:?} is not one of a set of choices: {}",
            x.label,
            x.control.open
        );
    }
    let (na, nb) = (
        attr(&fa.control.open, "name"),
        attr(&fb.control.open, "name"),
    );
    assert!(
        na.is_some() && na == nb,
        "{a:?} and {b:?} are not one choice: {} / {}",
        fa.control.open,
        fb.control.open
    );
}

#[then(regex = r"^the form has the fields (.+)$")]
fn has_fields(w: &mut DeviceWorld, list: String) {
    let f = form(w);
    for name in quoted_list(&list) {
        let x = field(f, &name);
        let ty = attr(&x.control.open, "type").unwrap_or_else(|| "text".into());
        assert!(
            !matches!(
                ty.as_str(),
                "radio" | "checkbox" | "hidden" | "submit" | "button"
            ),
            "{name:?} is not a field to fill in: {}",
            x.control.open
        );
    }
}

#[then(regex = r#"^the form has the button "(.+)"$"#)]
fn has_button(w: &mut DeviceWorld, name: String) {
    let f = form(w);
    let buttons = elements(f, "button");
    let b = buttons
        .iter()
        .find(|b| text_of(&b.inner).eq_ignore_ascii_case(&name))
        .unwrap_or_else(|| {
            let names: Vec<String> = buttons.iter().map(|b| text_of(&b.inner)).collect();
            panic!("the form has no button {name:?}; its buttons: {names:?}")
        });
    let ty = attr(&b.open, "type").unwrap_or_else(|| "submit".into());
    assert_eq!(
        ty, "submit",
        "{name:?} does not submit the form: {}",
        b.open
    );
}

#[then(regex = r#"^the field "(.+)" hides what is typed(, with a "(.+)" button next to it)?$"#)]
fn hides(w: &mut DeviceWorld, name: String, with: String, button: String) {
    let f = form(w);
    let x = field(f, &name);
    assert_eq!(
        attr(&x.control.open, "type").as_deref(),
        Some("password"),
        "{name:?} shows what is typed: {}",
        x.control.open
    );
    if with.is_empty() {
        return;
    }
    // The next control after the field must be that button, before any other field.
    let after = x.control.at + x.control.open.len();
    let next_button = elements(f, "button").into_iter().find(|b| b.at >= after);
    let next_field = controls(f)
        .into_iter()
        .chain(elements(f, "label"))
        .filter(|c| c.at >= after)
        .map(|c| c.at)
        .min();
    let b = next_button
        .filter(|b| next_field.is_none_or(|n| b.at < n))
        .unwrap_or_else(|| panic!("no button right after the field {name:?}"));
    assert!(
        text_of(&b.inner).eq_ignore_ascii_case(&button),
        "the button next to {name:?} says {:?}",
        text_of(&b.inner)
    );
    assert_eq!(
        attr(&b.open, "type").as_deref(),
        Some("button"),
        "the {button:?} button would submit the form: {}",
        b.open
    );
}

#[then(regex = r#"^the form says "(.+)" and "(.+)"$"#)]
fn form_says(w: &mut DeviceWorld, a: String, b: String) {
    let t = text_of(form(w));
    for want in [a, b] {
        assert!(t.contains(&want), "the form does not say {want:?}: {t}");
    }
}

#[then(regex = r#"^the form says "(.+)" next to the field "(.+)"$"#)]
fn says_next_to(w: &mut DeviceWorld, note: String, name: String) {
    let x = field(form(w), &name);
    assert!(
        x.label.contains(&note),
        "the label of {name:?} is {:?}",
        x.label
    );
}

#[then(regex = r"^the form offers no other Wi-Fi security than WPA2-PSK$")]
fn only_wpa2(w: &mut DeviceWorld) {
    let f = form(w);
    assert!(
        elements(f, "select").is_empty(),
        "the form has a drop-down list"
    );
    let t = text_of(f);
    for other in ["WEP", "WPA3", "Enterprise", "802.1X", "TKIP"] {
        assert!(!t.contains(other), "the form offers {other}: {t}");
    }
    let wpa: Vec<&str> = t.match_indices("WPA").map(|(i, _)| &t[i..]).collect();
    assert!(!wpa.is_empty(), "the form does not name WPA2-PSK");
    assert!(
        wpa.iter().all(|s| s.starts_with("WPA2-PSK")),
        "the form names another WPA mode: {t}"
    );
}
