//! Human-readable figures shared by every subcommand's output, and the
//! HTML escaping every status page uses. Pure.

/// Binary units: `262144` → `256 KiB`, `1610612736` → `1.50 GiB`.
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut unit = 0;
    let mut whole = bytes;
    while whole >= 1024 && unit + 1 < UNITS.len() {
        whole /= 1024;
        unit += 1;
    }
    let exact = bytes % (1u64 << (10 * unit)) == 0;
    if unit == 0 || exact {
        format!("{whole} {}", UNITS[unit])
    } else {
        #[allow(clippy::cast_precision_loss)] // display only
        let value = bytes as f64 / (1u64 << (10 * unit)) as f64;
        format!("{value:.2} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes() {
        assert_eq!(super::size(0), "0 B");
        assert_eq!(super::size(1023), "1023 B");
        assert_eq!(super::size(262_144), "256 KiB");
        assert_eq!(super::size(1_610_612_736), "1.50 GiB");
        assert_eq!(super::size(1025), "1.00 KiB");
    }
}

/// Unix seconds as an RFC 3339 UTC timestamp (proleptic Gregorian calendar).
pub fn utc_timestamp(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's days-from-civil inverse.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod timestamp_tests {
    #[test]
    fn timestamps() {
        assert_eq!(super::utc_timestamp(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::utc_timestamp(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(super::utc_timestamp(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(super::utc_timestamp(-1), "1969-12-31T23:59:59Z");
    }
}

/// Text for HTML element content and quoted attribute values: `<`, `>`,
/// `&`, `"` and `'` become entities. Names and errors come from outside.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A span for status pages, two units at most: `45s`, `3m 20s`,
/// `2h 05m`, `3d 04h`.
pub fn duration(span: std::time::Duration) -> String {
    let secs = span.as_secs();
    let (d, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    if d > 0 {
        format!("{d}d {h:02}h")
    } else if h > 0 {
        format!("{h}h {m:02}m")
    } else if m > 0 {
        format!("{m}m {s:02}s")
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod text_tests {
    use std::time::Duration;

    #[test]
    fn html_escaping() {
        assert_eq!(
            super::escape_html(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(super::escape_html("plain ä"), "plain ä");
    }

    #[test]
    fn durations() {
        let d = |s| super::duration(Duration::from_secs(s));
        assert_eq!(d(0), "0s");
        assert_eq!(d(45), "45s");
        assert_eq!(d(200), "3m 20s");
        assert_eq!(d(7500), "2h 05m");
        assert_eq!(d(3 * 86_400 + 4 * 3600 + 59), "3d 04h");
    }
}

/// Parses a size: `4194304`, `500k`, `256KiB`, `10 MiB`, `1G` (binary
/// units; `KB` means KiB as in mktorrent). A rate may end in `/s`.
pub fn parse_size(text: &str) -> Option<u64> {
    let trimmed = text.trim();
    let trimmed = trimmed.strip_suffix("/s").unwrap_or(trimmed).trim_end();
    let digits_end = trimmed
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(digits_end);
    let number: u64 = number.parse().ok()?;
    let multiplier: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => return None,
    };
    number.checked_mul(multiplier)
}

#[cfg(test)]
mod size_tests {
    use super::parse_size;

    #[test]
    fn sizes_and_rates_parse() {
        assert_eq!(parse_size("4194304"), Some(4_194_304));
        assert_eq!(parse_size("256KiB"), Some(262_144));
        assert_eq!(parse_size("10 MiB"), Some(10 << 20));
        assert_eq!(parse_size("10MiB/s"), Some(10 << 20));
        assert_eq!(parse_size("1g"), Some(1 << 30));
        for bad in [
            "",
            "MiB",
            "1.5M",
            "-1",
            "10 parsecs",
            "99999999999999999999G",
        ] {
            assert_eq!(parse_size(bad), None, "{bad}");
        }
    }
}
