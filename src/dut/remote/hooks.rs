//! Bench abilities by hook command or by asking the operator. A hook is a shell command from
//! the target file with `{placeholders}` filled in; its stdout is its answer. In interactive
//! mode a step with no hook asks the lab engineer on the terminal ("hold the button now,
//! then press Enter"; "which colour is the LED?").

use super::super::TargetError;
use crate::device::led::Color;
use std::time::Duration;
use tokio::io::AsyncBufReadExt;

/// How long a hook may take.
const HOOK_LIMIT: Duration = Duration::from_secs(120);

/// Run `template` in folder `dir` (the target file's; empty: the current one) with `vars`
/// substituted; the trimmed stdout, or an error naming the hook.
pub async fn run_hook(
    dir: &std::path::Path,
    name: &str,
    template: &str,
    vars: &[(&str, String)],
) -> Result<String, TargetError> {
    let mut cmd = template.to_string();
    for (k, v) in vars {
        cmd = cmd.replace(&format!("{{{k}}}"), v);
    }
    if let Some(i) = cmd.find('{').filter(|&i| cmd[i..].contains('}')) {
        let end = cmd[i..].find('}').map_or(cmd.len(), |e| i + e + 1);
        return Err(TargetError::bench(format!(
            "hook `{name}`: unknown placeholder {} in {template:?}",
            &cmd[i..end]
        )));
    }
    let out = tokio::time::timeout(HOOK_LIMIT, {
        let mut c = tokio::process::Command::new("sh");
        c.arg("-c").arg(&cmd).kill_on_drop(true);
        if !dir.as_os_str().is_empty() {
            c.current_dir(dir);
        }
        c.output()
    })
    .await
    .map_err(|_| {
        TargetError::bench(format!(
            "hook `{name}` ({cmd}) did not finish within {HOOK_LIMIT:?}"
        ))
    })?
    .map_err(|e| TargetError::bench(format!("hook `{name}` ({cmd}): {e}")))?;
    if !out.status.success() {
        return Err(TargetError::bench(format!(
            "hook `{name}` ({cmd}) failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// A colour as a hook prints it or an operator types it.
pub fn parse_colour(s: &str) -> Option<Color> {
    match s.trim().to_ascii_lowercase().as_str() {
        "red" | "r" => Some(Color::Red),
        "green" | "g" => Some(Color::Green),
        "blue" | "b" => Some(Color::Blue),
        "orange" | "o" => Some(Color::Orange),
        "off" | "f" | "dark" => Some(Color::Off),
        _ => None,
    }
}

/// Ask the operator; their answer line (trimmed).
pub async fn ask(question: &str) -> Result<String, TargetError> {
    eprint!("\n>>> {question} ");
    let mut line = String::new();
    tokio::io::BufReader::new(tokio::io::stdin())
        .read_line(&mut line)
        .await
        .map_err(|e| TargetError::bench(format!("reading the operator's answer: {e}")))?;
    Ok(line.trim().to_string())
}

/// Ask the operator to do something and confirm with Enter.
pub async fn instruct(what: &str) -> Result<(), TargetError> {
    ask(&format!("{what}, then press Enter.")).await.map(|_| ())
}

/// Ask the operator for the LED colour until the answer is one.
pub async fn ask_colour() -> Result<Color, TargetError> {
    loop {
        let a = ask("Which colour is the LED now? [r]ed [g]reen [b]lue [o]range o[f]f:").await?;
        if let Some(c) = parse_colour(&a) {
            return Ok(c);
        }
        eprintln!("    {a:?} is not a colour");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[tokio::test]
    async fn hooks_get_their_placeholders_and_report_failures() {
        let out = run_hook(
            Path::new(""),
            "power",
            "echo usb={usb} meter={meter}",
            &[("usb", "1".into()), ("meter", "0".into())],
        )
        .await
        .unwrap();
        assert_eq!(out, "usb=1 meter=0");
        let e = run_hook(Path::new(""), "led", "echo oops >&2; exit 3", &[])
            .await
            .unwrap_err();
        assert!(e.0.contains("hook `led`") && e.0.contains("oops"), "{e}");
        let e = run_hook(
            Path::new(""),
            "power",
            "relay {usbb}",
            &[("usb", "1".into())],
        )
        .await
        .unwrap_err();
        assert!(e.0.contains("unknown placeholder {usbb}"), "{e}");
    }

    #[test]
    fn colours_by_name_or_letter() {
        assert_eq!(parse_colour(" Green\n"), Some(Color::Green));
        assert_eq!(parse_colour("f"), Some(Color::Off));
        assert_eq!(parse_colour("purple"), None);
    }
}
