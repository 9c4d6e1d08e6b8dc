//! The two output formats' primitives: escaped text, coloured status words, code, links,
//! headings, verbatim blocks and one scenario run on a line, as Markdown or as HTML.

use super::{has_tag, location, Outcome};
use crate::conformance::coverage::RunResult;
use crate::conformance::junit::{clean, escape, escape_text};

#[derive(Clone, Copy, PartialEq)]
pub(super) enum Fmt {
    Md,
    Html,
}

pub(super) const TITLE: &str = "Smart Connect conformance report";

pub(super) const CSS: &str =
    "body{font-family:system-ui,sans-serif;margin:2em auto;padding:0 1.5em;color:#222;\
max-width:80em;line-height:1.45}h1{margin-bottom:.4em}h2{margin-top:1.6em;\
border-bottom:1px solid #ddd;padding-bottom:.2em}h3{margin:1.2em 0 .4em}\
table{border-collapse:collapse;width:100%;margin-bottom:1.5em}\
th,td{border:1px solid #ccc;padding:.3em .5em;text-align:left;vertical-align:top}\
th{background:#f3f3f3}.pass{color:#17692b;font-weight:bold}.fail{color:#b00020;font-weight:bold}\
.blocked{color:#a04b00;font-weight:bold}.skipped{color:#8a6d00}.notrun,.notjudged{color:#777}\
.unknown{color:#a04b00}\
dl.meta{display:grid;grid-template-columns:max-content auto;gap:.15em 1em;margin:0 0 1em}\
dl.meta dt{font-weight:bold}dl.meta dd{margin:0}\
.verdict{font-size:1.25em;margin:.5em 0}\
table.requirements td:first-child,table.notrun td:first-child{white-space:nowrap}\
table.requirements td:nth-child(2){width:40%}table.counts{width:auto}table.counts td{text-align:right}table.counts td:first-child{text-align:left}\
.conv{font-size:.8em;background:#e8eefc;padding:0 .3em;border-radius:3px}\
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.9em}\
pre{background:#f6f6f6;padding:.6em;overflow-x:auto;white-space:pre-wrap}.note{color:#555;font-size:.9em}\
ul.runs{margin:0;padding-left:1.1em}details summary{cursor:pointer;font-weight:bold}\
:target{background:#fff6c8}";

/// A numbered entry of the Failures or Blocked section that the table links to.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Entry {
    Failure(usize),
    Blocked(usize),
}

impl Entry {
    /// `Failure #2`, `Blocked #1`: the entry's heading and the text of links to it.
    pub(super) fn title(self) -> String {
        match self {
            Entry::Failure(n) => format!("Failure #{n}"),
            Entry::Blocked(n) => format!("Blocked #{n}"),
        }
    }

    /// The anchor, `fail-N` / `blocked-N`: an HTML `id` in both formats.
    pub(super) fn anchor(self) -> String {
        match self {
            Entry::Failure(n) => format!("fail-{n}"),
            Entry::Blocked(n) => format!("blocked-{n}"),
        }
    }
}

impl Fmt {
    /// Inline text: HTML-escaped, or for Markdown kept on one line with no pipes (table
    /// cells) and no inline HTML.
    pub(super) fn text(self, s: &str) -> String {
        match self {
            Fmt::Html => escape_text(s),
            Fmt::Md => clean(s)
                .replace('\\', "\\\\")
                .replace('|', "\\|")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
                .replace("\r\n", " ")
                .replace(['\n', '\r'], " "),
        }
    }

    /// A word in a status colour (`class`), bold in Markdown when `strong`.
    pub(super) fn status(self, class: &str, word: &str, strong: bool) -> String {
        match self {
            Fmt::Html => format!("<span class=\"{class}\">{}</span>", escape_text(word)),
            Fmt::Md if strong => format!("**{}**", self.text(word)),
            Fmt::Md => self.text(word),
        }
    }

    /// Bold text.
    pub(super) fn strong(self, s: &str) -> String {
        match self {
            Fmt::Html => format!("<strong>{}</strong>", escape_text(s)),
            Fmt::Md => format!("**{}**", self.text(s)),
        }
    }

    /// Text set as code (`SC_SEED=42`).
    pub(super) fn code(self, s: &str) -> String {
        match self {
            Fmt::Html => format!("<code>{}</code>", escape_text(s)),
            Fmt::Md => format!("`{}`", self.text(s).replace('`', "'")),
        }
    }

    /// A link to `#anchor` within the report.
    pub(super) fn link(self, anchor: &str, text: &str) -> String {
        match self {
            Fmt::Html => format!("<a href=\"#{}\">{}</a>", escape(anchor), escape_text(text)),
            Fmt::Md => format!("[{}](#{anchor})", self.text(text)),
        }
    }

    /// A section heading (`##`, `<h2>`) with the anchor `id` (in Markdown an inline
    /// `<a id>`, since heading slugs differ between renderers).
    pub(super) fn h2(self, title: &str, id: &str) -> String {
        match self {
            Fmt::Html => format!("<h2 id=\"{id}\">{}</h2>\n", escape_text(title)),
            Fmt::Md => format!("## <a id=\"{id}\"></a>{}\n\n", self.text(title)),
        }
    }

    /// A section heading with its count, and `None.` under it when empty.
    pub(super) fn section(self, title: &str, id: &str, n: usize) -> String {
        let mut s = self.h2(&format!("{title} ({n})"), id);
        if n == 0 {
            s.push_str(&self.para("None."));
        }
        s
    }

    /// A paragraph of already formatted inline content.
    pub(super) fn para(self, inline: &str) -> String {
        match self {
            Fmt::Html => format!("<p>{inline}</p>\n"),
            Fmt::Md => format!("{inline}\n\n"),
        }
    }

    /// A paragraph of explanation (smaller and grey in HTML).
    pub(super) fn note(self, inline: &str) -> String {
        match self {
            Fmt::Html => format!("<p class=\"note\">{inline}</p>\n"),
            Fmt::Md => format!("{inline}\n\n"),
        }
    }

    /// A bulleted list of already formatted items (nothing when empty).
    pub(super) fn list(self, items: &[String]) -> String {
        match self {
            _ if items.is_empty() => String::new(),
            Fmt::Html => format!("<ul>\n<li>{}</li>\n</ul>\n", items.join("</li>\n<li>")),
            Fmt::Md => format!("- {}\n\n", items.join("\n- ")),
        }
    }

    /// A table of already formatted cells; a row's anchor (`id`) goes on the `<tr>`, or in
    /// Markdown on an inline `<a id>` in its first cell. Nothing when there are no rows.
    pub(super) fn table(
        self,
        class: &str,
        head: &[&str],
        rows: &[(Option<String>, Vec<String>)],
    ) -> String {
        if rows.is_empty() {
            return String::new();
        }
        let mut o = match self {
            Fmt::Html => format!(
                "<table class=\"{class}\">\n<tr><th>{}</th></tr>\n",
                head.iter()
                    .map(|h| escape_text(h))
                    .collect::<Vec<_>>()
                    .join("</th><th>")
            ),
            Fmt::Md => format!(
                "| {} |\n|{}\n",
                head.iter()
                    .map(|h| self.text(h))
                    .collect::<Vec<_>>()
                    .join(" | "),
                "---|".repeat(head.len())
            ),
        };
        for (id, cells) in rows {
            o.push_str(&match (self, id) {
                (Fmt::Html, Some(id)) => {
                    format!(
                        "<tr id=\"{id}\"><td>{}</td></tr>\n",
                        cells.join("</td><td>")
                    )
                }
                (Fmt::Html, None) => format!("<tr><td>{}</td></tr>\n", cells.join("</td><td>")),
                (Fmt::Md, Some(id)) => format!("| <a id=\"{id}\"></a>{} |\n", cells.join(" | ")),
                (Fmt::Md, None) => format!("| {} |\n", cells.join(" | ")),
            });
        }
        o.push_str(match self {
            Fmt::Html => "</table>\n",
            Fmt::Md => "\n",
        });
        o
    }

    /// One numbered Failures/Blocked entry: its heading (with the anchor the summary and
    /// the table link to) naming `what` (already formatted), its facts (name, formatted
    /// value), then `label` and the text kept verbatim.
    pub(super) fn entry(
        self,
        e: Entry,
        what: &str,
        facts: &[(&str, String)],
        label: &str,
        text: &str,
    ) -> String {
        let facts: Vec<String> = facts
            .iter()
            .map(|(k, v)| format!("{} {v}", self.strong(&format!("{k}:"))))
            .collect();
        let (id, title) = (e.anchor(), e.title());
        let head = match self {
            Fmt::Html => format!("<h3 id=\"{id}\">{title} — {what}</h3>\n"),
            Fmt::Md => format!("### <a id=\"{id}\"></a>{title} — {what}\n\n"),
        };
        let label = self.para(&self.strong(&format!("{label}:")));
        format!("{head}{}{label}{}", self.list(&facts), self.block(text))
    }

    /// A reason kept verbatim: `<pre>`, or a fence no backtick run in it can close.
    pub(super) fn block(self, s: &str) -> String {
        let s = clean(s.trim_end());
        match self {
            Fmt::Html => format!("<pre>{}</pre>\n", escape_text(&s)),
            Fmt::Md => {
                let longest = s.split(|c| c != '`').map(str::len).max().unwrap_or(0);
                let fence = "`".repeat((longest + 1).max(3));
                format!("{fence}text\n{s}\n{fence}\n\n")
            }
        }
    }

    /// The `(sim-convention)` marker, when the run checks a simulator convention.
    fn convention(self, r: &RunResult) -> &'static str {
        match self {
            _ if !has_tag(r, "sim-convention") => "",
            Fmt::Html => " <span class=\"conv\">sim-convention</span>",
            Fmt::Md => " _(sim-convention)_",
        }
    }

    /// A run's scenario name (and whether it checks a sim convention).
    pub(super) fn name(self, r: &RunResult) -> String {
        format!("{}{}", self.text(&r.scenario), self.convention(r))
    }

    /// One scenario run: where and its name.
    pub(super) fn place(self, r: &RunResult) -> String {
        format!("{} — {}", self.text(&location(r)), self.name(r))
    }

    /// One scenario run with its status, and a link to its Failures/Blocked entry.
    pub(super) fn run(self, r: &RunResult, entry: Option<Entry>) -> String {
        let o = Outcome::of(r);
        let word = match o {
            Outcome::Failed if r.status == "failed" => "FAILED",
            Outcome::Blocked => "BLOCKED",
            _ => r.status.as_str(),
        };
        let see = entry.map_or(String::new(), |e| {
            format!(", see {}", self.link(&e.anchor(), &e.title()))
        });
        format!(
            "{} — {} ({}{see}){}",
            self.text(&location(r)),
            self.text(&r.scenario),
            self.status(o.css(), word, false),
            self.convention(r)
        )
    }
}
