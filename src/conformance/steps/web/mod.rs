//! Web interface steps (WEB-01..06): a "browser" here fetches the page and every file it
//! loads (scripts, style sheets, images) and reads their text; it does not run the script.
//! Forms, fields and labels are found in the HTML the way a person reads them: a field is a
//! `<label>` with its text and the control it names (`for=` or wrapped), a panel is a heading.
//! Saving "the way the page does" sends the request the page's script sends (the same API);
//! the script itself runs in a real browser in `tests/integration/web_browser/`.
//!
//! Files: `html.rs` (the HTML reader), `open.rs` (opening pages, WEB-01), `status_panel.rs`
//! (WEB-02), `forms.rs` (WEB-03..05), `saving.rs` (saving as the page does), `https.rs` (WEB-06).

mod forms;
pub mod html;
mod https;
mod open;
mod saving;
mod status_panel;

pub use self::html::{attr, elements, fragments, text_of};

use super::http::{Reach, Reply};
use url::Url;

/// A page as a browser loaded it.
#[derive(Debug, Clone)]
pub struct Page {
    /// Where the browser loaded it from (the host name it used).
    pub url: Url,
    pub reply: Reply,
    /// How it was reached (for the files it loads and the requests that follow).
    pub reach: Reach,
    /// Every file the page loads: (URL, answer or why there was none).
    pub files: Vec<(String, Result<Reply, String>)>,
}

impl Page {
    pub fn html(&self) -> &str {
        &self.reply.text
    }

    /// Inline scripts and the scripts the page loads.
    pub fn scripts(&self) -> Vec<String> {
        let mut out: Vec<String> = elements(self.html(), "script")
            .into_iter()
            .filter(|e| attr(&e.open, "src").is_none())
            .map(|e| e.inner)
            .collect();
        for (url, r) in &self.files {
            if let Ok(r) = r {
                if url.ends_with(".js") || r.content_type().contains("javascript") {
                    out.push(r.text.clone());
                }
            }
        }
        out
    }
}
