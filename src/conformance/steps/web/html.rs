//! A small HTML reader: elements and attributes, the text a reader sees, headings, and the
//! fields of a form (a `<label>` with the control it names).

/// One element: its opening tag, what is inside (empty for void elements), where it starts.
#[derive(Debug, Clone)]
pub struct Element {
    pub at: usize,
    pub open: String,
    pub inner: String,
}

const VOID: [&str; 6] = ["input", "meta", "link", "img", "br", "hr"];

/// Every `<tag …>` in `html` (not nested in one another: enough for labels, forms, buttons,
/// headings and scripts).
pub fn elements(html: &str, tag: &str) -> Vec<Element> {
    let lower = html.to_ascii_lowercase();
    let open_pat = format!("<{tag}");
    let close_pat = format!("</{tag}>");
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(i) = lower[from..].find(&open_pat).map(|i| i + from) {
        let after = i + open_pat.len();
        let next = lower[after..].chars().next();
        if !matches!(next, Some(c) if c.is_whitespace() || c == '>' || c == '/') {
            from = after;
            continue;
        }
        let Some(end) = lower[i..].find('>').map(|e| e + i + 1) else {
            break;
        };
        let open = html[i..end].to_string();
        if VOID.contains(&tag) {
            out.push(Element {
                at: i,
                open,
                inner: String::new(),
            });
            from = end;
            continue;
        }
        let close = lower[end..]
            .find(&close_pat)
            .map_or(html.len(), |c| c + end);
        out.push(Element {
            at: i,
            open,
            inner: html[end..close].to_string(),
        });
        from = close.min(html.len());
        if from == end && close == html.len() {
            break;
        }
    }
    out
}

/// An attribute of an opening tag (`name="v"`, `name='v'`, `name=v` or bare `name`).
pub fn attr(open: &str, name: &str) -> Option<String> {
    let s = open.trim_start_matches('<');
    let mut rest = s.trim_start_matches(|c: char| !c.is_whitespace() && c != '>');
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == '/');
        if rest.is_empty() || rest.starts_with('>') {
            return None;
        }
        let key_end = rest
            .find(|c: char| c.is_whitespace() || c == '=' || c == '>' || c == '/')
            .unwrap_or(rest.len());
        let key = rest[..key_end].to_ascii_lowercase();
        rest = rest[key_end..].trim_start();
        let mut value = String::new();
        if let Some(r) = rest.strip_prefix('=') {
            let r = r.trim_start();
            if let Some(q) = r.chars().next().filter(|c| *c == '"' || *c == '\'') {
                let body = &r[1..];
                let end = body.find(q).unwrap_or(body.len());
                value = body[..end].to_string();
                rest = body.get(end + 1..).unwrap_or("");
            } else {
                let end = r
                    .find(|c: char| c.is_whitespace() || c == '>')
                    .unwrap_or(r.len());
                value = r[..end].to_string();
                rest = &r[end..];
            }
        }
        if key == name {
            return Some(decode(&value));
        }
    }
}

fn decode(s: &str) -> String {
    s.replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// `html` without scripts and style sheets.
fn without_code(html: &str) -> String {
    let mut out = html.to_string();
    for tag in ["script", "style"] {
        for e in elements(&out.clone(), tag).into_iter().rev() {
            let lower = out.to_ascii_lowercase();
            let close = format!("</{tag}>");
            let end = lower[e.at..]
                .find(&close)
                .map_or(out.len(), |c| c + e.at + close.len());
            out.replace_range(e.at..end, " ");
        }
    }
    out
}

/// The pieces of text between tags, as a reader sees them (scripts and styles left out).
pub fn fragments(html: &str) -> Vec<String> {
    let html = without_code(html);
    let mut out = Vec::new();
    let mut rest = html.as_str();
    while !rest.is_empty() {
        let (text, after) = match rest.find('<') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        let t = decode(text)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        if !t.is_empty() {
            out.push(t);
        }
        rest = match after.find('>') {
            Some(j) => &after[j + 1..],
            None => "",
        };
    }
    out
}

/// All the text, joined with spaces.
pub fn text_of(html: &str) -> String {
    fragments(html).join(" ")
}

pub(super) fn headings(html: &str) -> Vec<Element> {
    let mut out: Vec<Element> = (1..=6)
        .flat_map(|n| elements(html, &format!("h{n}")))
        .collect();
    out.sort_by_key(|e| e.at);
    out
}

/// A field of a form: the label's text and the control it names.
#[derive(Debug, Clone)]
pub(super) struct Field {
    pub(super) label: String,
    pub(super) control: Element,
}

pub(super) fn controls(html: &str) -> Vec<Element> {
    let mut out: Vec<Element> = ["input", "select", "textarea"]
        .iter()
        .flat_map(|t| elements(html, t))
        .collect();
    out.sort_by_key(|e| e.at);
    out
}

fn fields(form: &str) -> Vec<Field> {
    let all = controls(form);
    elements(form, "label")
        .into_iter()
        .filter_map(|l| {
            let label = text_of(&l.inner);
            let wrapped = controls(&l.inner).into_iter().next().map(|mut c| {
                // Where the control is in the form, not in the label.
                c.at += l.at;
                c
            });
            let named = attr(&l.open, "for").and_then(|id| {
                all.iter()
                    .find(|c| attr(&c.open, "id").as_deref() == Some(id.as_str()))
                    .cloned()
            });
            wrapped.or(named).map(|control| Field { label, control })
        })
        .collect()
}

/// The field whose label is `name`, or else the first whose label contains it (ignoring case).
pub(super) fn field(form: &str, name: &str) -> Field {
    let all = fields(form);
    let n = name.to_lowercase();
    all.iter()
        .find(|f| f.label.to_lowercase() == n)
        .or_else(|| all.iter().find(|f| f.label.to_lowercase().contains(&n)))
        .cloned()
        .unwrap_or_else(|| {
            let labels: Vec<&String> = all.iter().map(|f| &f.label).collect();
            panic!("the form has no field {name:?}; its fields: {labels:?}")
        })
}

/// `"A", "B" and "C"` → [A, B, C].
pub(super) fn quoted_list(s: &str) -> Vec<String> {
    s.split('"').skip(1).step_by(2).map(String::from).collect()
}
