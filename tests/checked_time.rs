//! Time arithmetic on values from outside or from configuration is checked: the library's
//! sources add no duration to a `SystemTime` or an `Instant` with a bare `+`, which panics on
//! overflow (a token endpoint answering `"expires_in": 18446744073709551615` once did). Use
//! `checked_add` and decide what an overflow means.

use std::path::Path;

fn sources(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn no_bare_addition_to_a_point_in_time() {
    let mut files = Vec::new();
    sources(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    assert!(files.len() > 20, "the sources were not found");
    // The forms a point in time takes in these sources, followed by a bare `+`.
    let forms = [
        "now() + ",
        "now + ",
        "UNIX_EPOCH + ",
        "requested + ",
        "started + ",
        "at + ",
        "until + ",
        "deadline + ",
    ];
    let mut found = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for (number, line) in text.lines().enumerate() {
            let code = line.trim_start();
            if code.starts_with("//") {
                continue;
            }
            if forms.iter().any(|form| code.contains(form)) {
                found.push(format!("{}:{}: {}", file.display(), number + 1, code));
            }
        }
    }
    assert!(
        found.is_empty(),
        "unchecked time arithmetic:\n{}",
        found.join("\n")
    );
}
