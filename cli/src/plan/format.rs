//! Numbers as the plan prints them: thousands separators, dollars, unit prices, rates.

/// `1234567` as `1,234,567`.
pub fn int(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `x` (not negative: every figure of a plan is a count, a rate or a price) with `decimals`
/// decimals and thousands separators.
pub fn num(x: f64, decimals: usize) -> String {
    let text = format!("{:.*}", decimals, x.max(0.0));
    let (whole, fraction) = text.split_once('.').map_or((text.as_str(), None), |(w, f)| (w, Some(f)));
    let mut out = int(whole.parse().unwrap_or(0));
    if let Some(fraction) = fraction {
        out.push('.');
        out.push_str(fraction);
    }
    out
}

/// Dollars with cents: `$1,368.75`.
pub fn usd(x: f64) -> String {
    format!("${}", num(x, 2))
}

/// A saving: `−$1,368.75` (or `$0.00`).
pub fn saving(x: f64) -> String {
    if x >= 0.005 { format!("−{}", usd(x)) } else if x <= -0.005 { format!("+{}", usd(-x)) } else { usd(0.0) }
}

/// A unit price: as many decimals as it has, at least two (`0.20`, `0.015`).
pub fn price(x: f64) -> String {
    let text = format!("{x}");
    match text.split_once('.') {
        None => format!("{text}.00"),
        Some((_, fraction)) if fraction.len() < 2 => format!("{text}0"),
        Some(_) => text,
    }
}

/// A derived count: whole when it is, else two decimals (`60`, `0.75`).
pub fn count(x: f64) -> String {
    if (x - x.round()).abs() < 1e-9 { int(x.round() as u64) } else { num(x, 2) }
}

/// A quantity that may be well under one: two decimals, three under 0.1 (`4.00`, `0.002`).
pub fn fraction(x: f64) -> String {
    num(x, if x < 0.1 { 3 } else { 2 })
}

/// Bytes per second in MB/s (decimal, as Kinesis states its shard limit).
pub fn mb_per_s(bytes_per_s: f64) -> String {
    let decimals = if bytes_per_s < 1e5 {
        3
    } else if bytes_per_s < 1e7 {
        2
    } else {
        1
    };
    format!("{} MB/s", num(bytes_per_s / 1e6, decimals))
}

/// A count that may be fractional, with one decimal only when it has one.
pub fn rate_num(x: f64) -> String {
    if (x - x.round()).abs() < 1e-9 { int(x.round() as u64) } else { num(x, 1) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_numbers_with_separators() {
        assert_eq!(int(0), "0");
        assert_eq!(int(999), "999");
        assert_eq!(int(1_000), "1,000");
        assert_eq!(int(1_234_567), "1,234,567");
        assert_eq!(num(1234.5, 1), "1,234.5");
        assert_eq!(num(0.126, 2), "0.13");
        assert_eq!(usd(1368.75), "$1,368.75");
        assert_eq!((saving(10.0), saving(-2.5), saving(0.001)), ("−$10.00".into(), "+$2.50".into(), "$0.00".into()));
        assert_eq!(
            (price(0.2), price(0.015), price(3.5), price(1.0)),
            ("0.20".into(), "0.015".into(), "3.50".into(), "1.00".into())
        );
        assert_eq!((count(60.0), count(0.6)), ("60".into(), "0.60".into()));
        assert_eq!((fraction(4.0), fraction(0.002)), ("4.00".into(), "0.002".into()));
        assert_eq!((mb_per_s(60e6), mb_per_s(6e5)), ("60.0 MB/s".into(), "0.60 MB/s".into()));
        assert_eq!((rate_num(400.0), rate_num(8.33)), ("400".into(), "8.3".into()));
    }
}
