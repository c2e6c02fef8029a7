//! Dates and date-times as Salesforce writes them (`2024-05-01`,
//! `2024-05-01T13:45:00.000+0000`), read from what callers send (ISO 8601
//! with `Z`, `±hh:mm` or `±hhmm`), and the ranges of SOQL date literals.

use time::{Date, Duration, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

/// `YYYY-MM-DD`.
pub fn parse_date(text: &str) -> Option<Date> {
    let b = text.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |s: &str| {
        s.parse::<u16>()
            .ok()
            .filter(|_| s.bytes().all(|c| c.is_ascii_digit()))
    };
    let year = num(&text[..4])?;
    let month = Month::try_from(num(&text[5..7])? as u8).ok()?;
    Date::from_calendar_date(year as i32, month, num(&text[8..10])? as u8).ok()
}

/// `YYYY-MM-DDThh:mm:ss[.fff](Z|±hh:mm|±hhmm)`, or a bare date (midnight UTC).
pub fn parse_datetime(text: &str) -> Option<OffsetDateTime> {
    if text.len() == 10 {
        return Some(parse_date(text)?.midnight().assume_utc());
    }
    let date = parse_date(text.get(..10)?)?;
    let rest = text.get(10..)?.strip_prefix(['T', ' '])?;
    let b = rest.as_bytes();
    if b.len() < 8 || b[2] != b':' || b[5] != b':' {
        return None;
    }
    let two = |s: &str| {
        s.parse::<u8>()
            .ok()
            .filter(|_| s.bytes().all(|c| c.is_ascii_digit()))
    };
    let (h, m, s) = (two(&rest[..2])?, two(&rest[3..5])?, two(&rest[6..8])?);
    let mut zone = &rest[8..];
    let mut millis = 0u16;
    if let Some(frac) = zone.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let ms: String = frac[..digits].chars().chain("00".chars()).take(3).collect();
        millis = ms.parse().ok()?;
        zone = &frac[digits..];
    }
    let offset = match zone {
        "Z" | "" => UtcOffset::UTC,
        _ => {
            let sign: i8 = match zone.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let digits: String = zone[1..].chars().filter(|c| *c != ':').collect();
            if digits.len() != 4 {
                return None;
            }
            let (oh, om) = (two(&digits[..2])?, two(&digits[2..])?);
            UtcOffset::from_hms(sign * oh as i8, sign * om as i8, 0).ok()?
        }
    };
    let time = Time::from_hms_milli(h, m, s, millis).ok()?;
    Some(PrimitiveDateTime::new(date, time).assume_offset(offset))
}

/// Salesforce's form of a date-time: `2024-05-01T13:45:00.000+0000` (UTC).
pub fn format_datetime(t: OffsetDateTime) -> String {
    let t = t.to_offset(UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}+0000",
        t.year(),
        t.month() as u8,
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// `YYYY-MM-DD`.
pub fn format_date(d: Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), d.month() as u8, d.day())
}

/// Now, as Salesforce writes it.
pub fn now() -> String {
    format_datetime(OffsetDateTime::now_utc())
}

/// The days `[start, end)` a date literal names, relative to `today` (UTC);
/// None for a name that is no date literal.
pub fn literal_range(name: &str, n: Option<i64>, today: Date) -> Option<(Date, Date)> {
    let day = Duration::days(1);
    let week_start = today - Duration::days(today.weekday().number_days_from_sunday() as i64);
    let month_start = today.replace_day(1).ok()?;
    let next_month = |d: Date| {
        let (y, m) = if d.month() == Month::December {
            (d.year() + 1, Month::January)
        } else {
            (d.year(), d.month().next())
        };
        Date::from_calendar_date(y, m, 1).ok()
    };
    let prev_month = |d: Date| {
        let (y, m) = if d.month() == Month::January {
            (d.year() - 1, Month::December)
        } else {
            (d.year(), d.month().previous())
        };
        Date::from_calendar_date(y, m, 1).ok()
    };
    let year_start = |y: i32| Date::from_calendar_date(y, Month::January, 1).ok();
    let n = n.unwrap_or(0).clamp(0, 10_000);
    Some(match (name, n) {
        ("TODAY", _) => (today, today + day),
        ("YESTERDAY", _) => (today - day, today),
        ("TOMORROW", _) => (today + day, today + day + day),
        ("THIS_WEEK", _) => (week_start, week_start + Duration::weeks(1)),
        ("LAST_WEEK", _) => (week_start - Duration::weeks(1), week_start),
        ("NEXT_WEEK", _) => (
            week_start + Duration::weeks(1),
            week_start + Duration::weeks(2),
        ),
        ("THIS_MONTH", _) => (month_start, next_month(month_start)?),
        ("LAST_MONTH", _) => (prev_month(month_start)?, month_start),
        ("NEXT_MONTH", _) => (
            next_month(month_start)?,
            next_month(next_month(month_start)?)?,
        ),
        ("THIS_YEAR", _) => (year_start(today.year())?, year_start(today.year() + 1)?),
        ("LAST_YEAR", _) => (year_start(today.year() - 1)?, year_start(today.year())?),
        ("NEXT_YEAR", _) => (year_start(today.year() + 1)?, year_start(today.year() + 2)?),
        ("LAST_N_DAYS", n) => (today - Duration::days(n), today + day),
        ("NEXT_N_DAYS", n) => (today + day, today + day + Duration::days(n)),
        ("N_DAYS_AGO", n) => (today - Duration::days(n), today - Duration::days(n) + day),
        ("LAST_N_WEEKS", n) => (week_start - Duration::weeks(n), week_start),
        ("NEXT_N_WEEKS", n) => (
            week_start + Duration::weeks(1),
            week_start + Duration::weeks(n + 1),
        ),
        _ => return None,
    })
}

/// Whether `name` is a date literal without a number (`TODAY`, `THIS_MONTH`...).
pub fn is_literal(name: &str) -> bool {
    matches!(
        name,
        "TODAY"
            | "YESTERDAY"
            | "TOMORROW"
            | "THIS_WEEK"
            | "LAST_WEEK"
            | "NEXT_WEEK"
            | "THIS_MONTH"
            | "LAST_MONTH"
            | "NEXT_MONTH"
            | "THIS_YEAR"
            | "LAST_YEAR"
            | "NEXT_YEAR"
    )
}

/// Whether a date literal takes `:n`.
pub fn literal_takes_number(name: &str) -> bool {
    matches!(
        name,
        "LAST_N_DAYS" | "NEXT_N_DAYS" | "N_DAYS_AGO" | "LAST_N_WEEKS" | "NEXT_N_WEEKS"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_callers_send_and_writes_salesforce_form() {
        for (input, expected) in [
            ("2024-05-01T13:45:00Z", "2024-05-01T13:45:00.000+0000"),
            ("2024-05-01T13:45:00.5Z", "2024-05-01T13:45:00.500+0000"),
            ("2024-05-01T15:45:00+02:00", "2024-05-01T13:45:00.000+0000"),
            (
                "2024-05-01T13:45:00.000+0000",
                "2024-05-01T13:45:00.000+0000",
            ),
            ("2024-05-01", "2024-05-01T00:00:00.000+0000"),
        ] {
            assert_eq!(
                format_datetime(parse_datetime(input).unwrap()),
                expected,
                "{input}"
            );
        }
        for bad in [
            "2024-13-01",
            "2024-02-30",
            "2024-05-01T25:00:00Z",
            "2024-05-01T13:45:00X",
            "24-05-01",
            "2024-05-01T13:45",
        ] {
            assert!(parse_datetime(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn date_literals_name_ranges() {
        let today = Date::from_calendar_date(2024, Month::March, 13).unwrap(); // a Wednesday
        let d = |m, day| Date::from_calendar_date(2024, m, day).unwrap();
        assert_eq!(
            literal_range("TODAY", None, today),
            Some((today, d(Month::March, 14)))
        );
        assert_eq!(
            literal_range("LAST_N_DAYS", Some(7), today),
            Some((d(Month::March, 6), d(Month::March, 14)))
        );
        assert_eq!(
            literal_range("THIS_WEEK", None, today),
            Some((d(Month::March, 10), d(Month::March, 17)))
        );
        assert_eq!(
            literal_range("LAST_MONTH", None, today),
            Some((d(Month::February, 1), d(Month::March, 1)))
        );
        assert_eq!(literal_range("NOPE", None, today), None);
    }
}
