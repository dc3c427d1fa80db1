//! Business hours (billing.md §7 `business_hours`, metrics.md): how many seconds of a
//! span of time fall inside an account's opening hours, in its IANA time zone.
//!
//! Opening hours are local wall-clock times, so the same `09:00-18:00` is a different UTC
//! span in winter and summer, and a schedule running through the night of a clock change
//! is an hour shorter or longer that day. Each day's opening is therefore converted to UTC
//! on its own, through the time zone, and intersected with the span.

use chrono::{
    DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc,
    Weekday,
};
use chrono_tz::Tz;

/// Opening hours per weekday, minutes after local midnight, half-open `[open, close)`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Schedule {
    /// Index 0 = Monday.
    days: [Vec<(u32, u32)>; 7],
}

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

impl Schedule {
    /// Parse `mon-fri 09:00-18:00; sat 10:00-14:00`. An empty text is no schedule
    /// (`None`): its business-hours durations are null, not zero.
    pub fn parse(text: &str) -> Result<Option<Schedule>, String> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(None);
        }
        let mut schedule = Schedule::default();
        for part in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            let (days, hours) = part
                .split_once(char::is_whitespace)
                .ok_or_else(|| format!("{part:?}: expected `DAYS HH:MM-HH:MM`"))?;
            let day_index = |d: &str| {
                DAYS.iter()
                    .position(|x| x.eq_ignore_ascii_case(d.trim()))
                    .ok_or_else(|| format!("{part:?}: {d:?} is not a day (mon … sun)"))
            };
            let (first, last) = match days.split_once('-') {
                Some((a, b)) => (day_index(a)?, day_index(b)?),
                None => (day_index(days)?, day_index(days)?),
            };
            if last < first {
                return Err(format!("{part:?}: day range runs backwards"));
            }
            for range in hours.split(',').map(str::trim) {
                let (open, close) = range
                    .split_once('-')
                    .ok_or_else(|| format!("{part:?}: expected HH:MM-HH:MM"))?;
                let minutes = |t: &str| -> Result<u32, String> {
                    let (h, m) = t
                        .trim()
                        .split_once(':')
                        .ok_or_else(|| format!("{part:?}: {t:?} is not HH:MM"))?;
                    let (h, m): (u32, u32) = (
                        h.parse()
                            .map_err(|_| format!("{part:?}: {t:?} is not HH:MM"))?,
                        m.parse()
                            .map_err(|_| format!("{part:?}: {t:?} is not HH:MM"))?,
                    );
                    if m > 59 || h > 24 || (h == 24 && m > 0) {
                        return Err(format!("{part:?}: {t:?} is not a time of day"));
                    }
                    Ok(h * 60 + m)
                };
                let (open, close) = (minutes(open)?, minutes(close)?);
                if close <= open {
                    return Err(format!(
                        "{part:?}: {range} closes before it opens (overnight ranges are not allowed)"
                    ));
                }
                for d in first..=last {
                    schedule.days[d].push((open, close));
                }
            }
        }
        // Overlapping ranges of one day are merged, so no second is counted twice.
        for d in schedule.days.iter_mut() {
            d.sort();
            let mut merged: Vec<(u32, u32)> = Vec::with_capacity(d.len());
            for &(open, close) in d.iter() {
                match merged.last_mut() {
                    Some(last) if open <= last.1 => last.1 = last.1.max(close),
                    _ => merged.push((open, close)),
                }
            }
            *d = merged;
        }
        Ok(Some(schedule))
    }

    fn openings(&self, weekday: Weekday) -> &[(u32, u32)] {
        &self.days[weekday.num_days_from_monday() as usize]
    }
}

/// The UTC instant of a local wall-clock time. In a spring-forward gap the time does not
/// exist: the clock jumps, so the instant is the end of the gap. In a fall-back overlap it
/// exists twice: the earlier one for an opening, the later one for a closing, so the
/// repeated hour is inside the opening.
fn local_instant(tz: &Tz, local: NaiveDateTime, later: bool) -> DateTime<Utc> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(a, b) if later => a.max(b).with_timezone(&Utc),
        LocalResult::Ambiguous(a, b) => a.min(b).with_timezone(&Utc),
        LocalResult::None => {
            // Walk forward a minute at a time to the first wall time that exists.
            let mut probe = local;
            for _ in 0..(24 * 60) {
                probe += Duration::minutes(1);
                if let Some(t) = tz.from_local_datetime(&probe).earliest() {
                    return t.with_timezone(&Utc);
                }
            }
            Utc.from_utc_datetime(&local)
        }
    }
}

fn at_minutes(date: NaiveDate, minutes: u32) -> NaiveDateTime {
    if minutes >= 24 * 60 {
        (date + Duration::days(1)).and_time(NaiveTime::MIN)
    } else {
        date.and_hms_opt(minutes / 60, minutes % 60, 0)
            .expect("valid time of day")
    }
}

/// Seconds of `[from, to)` (UTC, µs) inside the schedule's opening hours in `tz`.
pub fn business_seconds(schedule: &Schedule, tz: &Tz, from: i64, to: i64) -> i64 {
    if to <= from {
        return 0;
    }
    let from_t = DateTime::<Utc>::from_timestamp_micros(from).unwrap_or_default();
    let to_t = DateTime::<Utc>::from_timestamp_micros(to).unwrap_or_default();
    // Local dates that can hold a moment of the span (one day of margin each side).
    let first = from_t.with_timezone(tz).date_naive() - Duration::days(1);
    let last = to_t.with_timezone(tz).date_naive() + Duration::days(1);
    let mut micros = 0i64;
    let mut date = first;
    while date <= last {
        for &(open, close) in schedule.openings(date.weekday()) {
            let start = local_instant(tz, at_minutes(date, open), false).timestamp_micros();
            let end = local_instant(tz, at_minutes(date, close), true).timestamp_micros();
            let (s, e) = (start.max(from), end.min(to));
            if e > s {
                micros += e - s;
            }
        }
        date += Duration::days(1);
    }
    micros / 1_000_000
}

/// A schedule's openings as UTC spans over a run of local dates, converted through the
/// time zone once, so that the business seconds of a span are a binary search and a sum
/// (a build measures a million waits against a few dozen days per business). Spans outside
/// the dates it was made for fall back to [`business_seconds`]; the two agree exactly.
#[derive(Debug, Clone)]
pub struct OpeningTimes {
    schedule: Schedule,
    tz: Tz,
    /// Each local date's openings in UTC µs, in date order.
    spans: Vec<(i64, i64)>,
    /// Instants whose margin dates all lie inside the converted dates.
    covered: (i64, i64),
}

/// No opening lasts longer than a day and a clock change (25 h): the search for the first
/// span that can overlap a start steps back this far.
const LONGEST_OPENING_MICROS: i64 = 26 * 3_600_000_000;

impl OpeningTimes {
    /// The openings of the local dates `first ..= last`.
    pub fn new(schedule: &Schedule, tz: Tz, first: NaiveDate, last: NaiveDate) -> OpeningTimes {
        let mut spans = Vec::new();
        let mut date = first;
        while date <= last {
            for &(open, close) in schedule.openings(date.weekday()) {
                spans.push((
                    local_instant(&tz, at_minutes(date, open), false).timestamp_micros(),
                    local_instant(&tz, at_minutes(date, close), true).timestamp_micros(),
                ));
            }
            date += Duration::days(1);
        }
        let midnight = |d: NaiveDate| d.and_time(NaiveTime::MIN).and_utc().timestamp_micros();
        // A local date is within a day of the UTC one, and business_seconds looks one more
        // day each side: two days of margin at each end.
        let covered = (
            midnight(first + Duration::days(2)),
            midnight(last - Duration::days(1)),
        );
        OpeningTimes {
            schedule: schedule.clone(),
            tz,
            spans,
            covered,
        }
    }

    /// Seconds of `[from, to)` (UTC, µs) inside the openings: [`business_seconds`].
    pub fn seconds(&self, from: i64, to: i64) -> i64 {
        if to <= from {
            return 0;
        }
        if from < self.covered.0 || to >= self.covered.1 {
            return business_seconds(&self.schedule, &self.tz, from, to);
        }
        let first = self
            .spans
            .partition_point(|&(start, _)| start < from - LONGEST_OPENING_MICROS);
        let micros: i64 = self.spans[first..]
            .iter()
            .take_while(|&&(start, _)| start < to)
            .map(|&(start, end)| (end.min(to) - start.max(from)).max(0))
            .sum();
        micros / 1_000_000
    }
}
