//! `msgmeter generate`: realistic synthetic traffic (spec README "Synthetic traffic").
//!
//! Businesses of several verticals in several markets, each with its time zone, business
//! hours, bot share and reply speed; customers mostly from the business's country, some
//! from abroad (including +1 Caribbean numbers that are not North America, and, from 2026,
//! customers known only by a business-scoped user id). Traffic is a sequence of *threads*:
//! a customer writes (sometimes from an ad: a free entry point) and the business answers —
//! or doesn't, about 40 % of the time — with log-normal delays that grow outside business
//! hours; or the business sends a template of some category and the customer may answer.
//! Outbound messages get statuses (sent, delivered, read, failed), some out of order, some
//! `read` with no `delivered`. Webhook retries duplicate about 3 % of lines, some events
//! arrive days late, and a small fraction of lines is corrupt. In the event-log format,
//! support threads open complaint and request cases with reopenings and ratings.
//!
//! Determinism and flat memory: each day has its own seeded RNG; a day is produced in
//! 15-minute slices, and only events not yet due (replies, statuses, late arrivals) wait in
//! a queue keyed by the slice they arrive in. Lines are written as their slice closes.

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use chrono::{Datelike, NaiveDate, TimeZone, Timelike, Utc, Weekday};
use chrono_tz::Tz;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, LogNormal};
use serde_json::json;

use crate::error::{write_err, Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TrafficFormat {
    /// Meta-shaped webhook bodies, one per line (NDJSON)
    Whatsapp,
    /// the platform's own event log (NDJSON), with support cases
    Events,
    /// the same event log as CSV (header = field names)
    EventsCsv,
}

impl TrafficFormat {
    fn is_event_log(self) -> bool {
        matches!(self, TrafficFormat::Events | TrafficFormat::EventsCsv)
    }
}

#[derive(Debug, Clone)]
pub struct GenerateOptions {
    pub out: PathBuf,
    pub format: TrafficFormat,
    pub businesses: usize,
    pub customers: usize,
    pub start: NaiveDate,
    pub days: u32,
    pub events_per_day: u64,
    pub seed: u64,
    pub files_per_day: u32,
}

#[derive(Debug, Default, Clone)]
pub struct GenerateSummary {
    pub files: Vec<PathBuf>,
    pub lines: u64,
    pub records: u64,
    pub bytes: u64,
}

const SLICE_SECONDS: i64 = 15 * 60;
const SLICES_PER_DAY: i64 = 86_400 / SLICE_SECONDS;

/// One business of the synthetic platform.
#[derive(Debug, Clone)]
struct Business {
    id: String,
    phone_number_id: String,
    display_number: String,
    country_code: &'static str,
    tz: Tz,
    vertical: Vertical,
    /// Local opening hours on weekdays (None: answers around the clock).
    hours: Option<(u32, u32)>,
    bot_share: f64,
    answer_rate: f64,
    /// Median seconds to a human reply inside business hours.
    median_reply: f64,
    agents: u32,
    /// Relative weights of marketing, utility, authentication templates.
    template_mix: [f64; 3],
    size: f64,
}

#[derive(Debug, Clone, Copy)]
enum Vertical {
    Bank,
    Airline,
    Shop,
    Telco,
}

impl Vertical {
    fn case_categories(self) -> &'static [&'static str] {
        match self {
            Vertical::Bank => &["fraud", "card blocked", "billing", "transfer", "loan"],
            Vertical::Airline => &["flight delay", "baggage", "refund", "booking change"],
            Vertical::Shop => &["delivery", "return", "billing", "damaged item"],
            Vertical::Telco => &["billing", "network outage", "plan change", "sim swap"],
        }
    }
}

/// Calling code, national number length, IANA zone, weight for foreign customers.
const COUNTRIES: &[(&str, usize, &str, f64)] = &[
    ("55", 11, "America/Sao_Paulo", 10.0),
    ("52", 10, "America/Mexico_City", 8.0),
    ("91", 10, "Asia/Kolkata", 10.0),
    ("62", 10, "Asia/Jakarta", 6.0),
    ("44", 10, "Europe/London", 4.0),
    ("49", 11, "Europe/Berlin", 4.0),
    ("34", 9, "Europe/Madrid", 3.0),
    ("1", 10, "America/New_York", 6.0),
    ("234", 10, "Africa/Lagos", 3.0),
    ("57", 10, "America/Bogota", 3.0),
    ("54", 10, "America/Argentina/Buenos_Aires", 2.0),
    ("27", 9, "Africa/Johannesburg", 2.0),
    ("971", 9, "Asia/Dubai", 1.5),
    ("966", 9, "Asia/Riyadh", 1.5),
    ("90", 10, "Europe/Istanbul", 1.5),
    ("33", 9, "Europe/Paris", 2.0),
    ("39", 10, "Europe/Rome", 2.0),
    ("31", 9, "Europe/Amsterdam", 1.0),
    ("60", 9, "Asia/Kuala_Lumpur", 1.0),
    ("92", 10, "Asia/Karachi", 1.5),
    ("20", 10, "Africa/Cairo", 1.5),
    ("972", 9, "Asia/Jerusalem", 0.5),
    ("7", 10, "Europe/Moscow", 1.0),
    ("51", 9, "America/Lima", 1.0),
    ("56", 9, "America/Santiago", 1.0),
    ("48", 9, "Europe/Warsaw", 0.7),
    ("84", 9, "Asia/Ho_Chi_Minh", 0.7),
    ("254", 9, "Africa/Nairobi", 0.7),
    ("1787", 7, "America/Puerto_Rico", 0.5),
    ("1809", 7, "America/Santo_Domingo", 0.5),
    ("1876", 7, "America/Jamaica", 0.4),
    ("886", 9, "Asia/Taipei", 0.3),
];

const WORDS: &[&str] = &[
    "hello",
    "my",
    "order",
    "has",
    "not",
    "arrived",
    "yet",
    "please",
    "help",
    "card",
    "was",
    "charged",
    "twice",
    "flight",
    "delayed",
    "when",
    "can",
    "I",
    "get",
    "a",
    "refund",
    "thanks",
    "the",
    "app",
    "is",
    "not",
    "working",
    "since",
    "yesterday",
    "could",
    "you",
    "check",
    "account",
    "number",
    "ticket",
    "baggage",
    "lost",
    "payment",
    "failed",
    "again",
    "urgent",
];

struct Customer {
    digits: String,
    /// Business-scoped user id: only this is on the wire when the customer hides the number.
    user_id: Option<String>,
    name: String,
}

/// One line waiting for its arrival slice.
struct Pending {
    arrival: i64,
    order: u64,
    line: Vec<u8>,
    records: u64,
}

/// Stamp on a line (Unix seconds) and where it goes.
struct Emitter {
    queue: BTreeMap<i64, Vec<Pending>>,
    order: u64,
}

impl Emitter {
    fn push(&mut self, arrival: i64, line: Vec<u8>, records: u64) {
        let slice = arrival.div_euclid(SLICE_SECONDS);
        self.order += 1;
        self.queue.entry(slice).or_default().push(Pending {
            arrival,
            order: self.order,
            line,
            records,
        });
    }
}

/// Per customer-business pair: what the platform would report (CBP conversations) and the
/// customer-service and free-entry windows.
#[derive(Default, Clone)]
struct PairState {
    last_inbound: Option<i64>,
    fep_until: Option<i64>,
    /// category → (conversation id, expires)
    open: Vec<(String, String, i64)>,
}

struct World {
    opts: GenerateOptions,
    businesses: Vec<Business>,
    customers: Vec<Customer>,
    /// customers of each business (indices)
    audience: Vec<Vec<usize>>,
    pairs: HashMap<(usize, usize), PairState>,
    counter: u64,
}

pub fn generate(opts: &GenerateOptions) -> Result<GenerateSummary> {
    if opts.businesses == 0 || opts.customers == 0 || opts.days == 0 || opts.files_per_day == 0 {
        return Err(Error::Usage(
            "--businesses, --customers, --days and --files-per-day must be at least 1".into(),
        ));
    }
    fs::create_dir_all(&opts.out).map_err(write_err(&opts.out))?;
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
    let businesses = make_businesses(opts.businesses);
    let customers = make_customers(opts.customers, &mut rng);
    let audience = businesses
        .iter()
        .map(|b| {
            let home: Vec<usize> = customers
                .iter()
                .enumerate()
                .filter(|(_, c)| c.digits.starts_with(b.country_code))
                .map(|(i, _)| i)
                .collect();
            let mut a: Vec<usize> = home.into_iter().take(opts.customers / 4 + 50).collect();
            // plus foreigners
            for _ in 0..(opts.customers / 20).max(20) {
                a.push(rng.gen_range(0..customers.len()));
            }
            a.sort_unstable();
            a.dedup();
            a
        })
        .collect();
    let mut world = World {
        opts: opts.clone(),
        businesses,
        customers,
        audience,
        pairs: HashMap::new(),
        counter: 0,
    };
    let mut emitter = Emitter {
        queue: BTreeMap::new(),
        order: 0,
    };
    let mut summary = GenerateSummary::default();
    let total_weight: f64 = world.businesses.iter().map(|b| b.size).sum();

    for day_index in 0..opts.days {
        let day = opts.start + chrono::Duration::days(day_index as i64);
        let mut rng = ChaCha8Rng::seed_from_u64(
            opts.seed ^ (0x9E37_79B9_7F4A_7C15u64.wrapping_mul(day_index as u64 + 1)),
        );
        let day_start = Utc
            .from_utc_datetime(&day.and_hms_opt(0, 0, 0).expect("midnight"))
            .timestamp();
        let first_slice = day_start / SLICE_SECONDS;
        let mut files = DayFiles::open(&opts.out, opts.format, day, opts.files_per_day)?;
        for s in 0..SLICES_PER_DAY {
            let slice_start = day_start + s * SLICE_SECONDS;
            // Threads start following a day curve (quiet nights, busy afternoons, UTC).
            let hour = (s * SLICE_SECONDS / 3600) as f64;
            let curve = 0.35
                + (((hour - 4.0) / 24.0) * std::f64::consts::TAU)
                    .sin()
                    .max(-0.3)
                + 0.3;
            let expected_records = opts.events_per_day as f64 * curve / curve_sum();
            let mut made = 0.0;
            while made < expected_records {
                let b = pick_business(&world.businesses, total_weight, &mut rng);
                let start = slice_start + rng.gen_range(0..SLICE_SECONDS);
                made += world.thread(b, start, &mut rng, &mut emitter) as f64;
            }
            // Write what arrives in this slice, in arrival order.
            if let Some(mut due) = emitter.queue.remove(&(first_slice + s)) {
                due.sort_by_key(|p| (p.arrival, p.order));
                let file = (s * opts.files_per_day as i64 / SLICES_PER_DAY) as usize;
                for p in due {
                    files.write(file, &p.line)?;
                    summary.records += p.records;
                    summary.lines += 1;
                }
            }
            // Anything queued for an earlier slice (cannot happen, but never lose it).
            let stale: Vec<i64> = emitter
                .queue
                .range(..first_slice + s)
                .map(|(k, _)| *k)
                .collect();
            for k in stale {
                for p in emitter.queue.remove(&k).unwrap_or_default() {
                    files.write(opts.files_per_day as usize - 1, &p.line)?;
                    summary.records += p.records;
                    summary.lines += 1;
                }
            }
        }
        // The last day also delivers everything still in flight.
        if day_index + 1 == opts.days {
            for (_, due) in std::mem::take(&mut emitter.queue) {
                for p in due {
                    files.write(opts.files_per_day as usize - 1, &p.line)?;
                    summary.records += p.records;
                    summary.lines += 1;
                }
            }
        }
        let (paths, bytes) = files.finish()?;
        summary.bytes += bytes;
        summary.files.extend(paths);
        tracing::debug!(day = %day, "generated");
    }
    Ok(summary)
}

fn curve_sum() -> f64 {
    (0..SLICES_PER_DAY)
        .map(|s| {
            let hour = (s * SLICE_SECONDS / 3600) as f64;
            0.35 + (((hour - 4.0) / 24.0) * std::f64::consts::TAU)
                .sin()
                .max(-0.3)
                + 0.3
        })
        .sum()
}

fn pick_business(bs: &[Business], total: f64, rng: &mut ChaCha8Rng) -> usize {
    let mut x = rng.gen_range(0.0..total);
    for (i, b) in bs.iter().enumerate() {
        if x < b.size {
            return i;
        }
        x -= b.size;
    }
    bs.len() - 1
}

/// Home calling code, zone, ISO country and billing currency of the synthetic businesses.
const HOMES: &[(&str, &str, &str, &str)] = &[
    ("55", "America/Sao_Paulo", "BR", "USD"),
    ("52", "America/Mexico_City", "MX", "USD"),
    ("91", "Asia/Kolkata", "IN", "INR"),
    ("44", "Europe/London", "GB", "GBP"),
    ("49", "Europe/Berlin", "DE", "EUR"),
    ("62", "Asia/Jakarta", "ID", "USD"),
    ("34", "Europe/Madrid", "ES", "EUR"),
    ("1", "America/New_York", "US", "USD"),
    ("234", "Africa/Lagos", "NG", "USD"),
    ("57", "America/Bogota", "CO", "USD"),
];

/// The businesses of the synthetic platform. Their attributes depend on their index only
/// (not on `--seed`), so both formats and every seed describe the same accounts.
fn make_businesses(n: usize) -> Vec<Business> {
    (0..n)
        .map(|i| {
            let rng = &mut ChaCha8Rng::seed_from_u64(0xB051_4E55 ^ i as u64);
            let (cc, tz, _, _) = HOMES[i % HOMES.len()];
            let vertical = [
                Vertical::Bank,
                Vertical::Airline,
                Vertical::Shop,
                Vertical::Telco,
            ][i % 4];
            let around_the_clock = i % 5 == 3;
            Business {
                id: format!("{}", 102_000_000_000_000u64 + (i as u64) * 7_919 + 1),
                phone_number_id: format!("{}", 106_000_000_000_000u64 + (i as u64) * 104_729 + 3),
                display_number: format!("{cc}800{:07}", 1_000_000 + i * 37),
                country_code: cc,
                tz: tz.parse().expect("valid zone"),
                vertical,
                hours: (!around_the_clock).then(|| (rng.gen_range(7..=9), rng.gen_range(17..=20))),
                bot_share: rng.gen_range(0.0..0.5),
                answer_rate: rng.gen_range(0.45..0.75),
                median_reply: rng.gen_range(420.0..780.0),
                agents: rng.gen_range(3..40),
                template_mix: match vertical {
                    Vertical::Bank => [0.2, 0.4, 0.4],
                    Vertical::Airline => [0.2, 0.7, 0.1],
                    Vertical::Shop => [0.6, 0.35, 0.05],
                    Vertical::Telco => [0.4, 0.4, 0.2],
                },
                // A few big brands and a long tail (Zipf-like).
                size: 1.0 / (1.0 + i as f64).powf(0.8),
            }
        })
        .collect()
}

/// The account registry of the first `n` synthetic businesses (billing.md §7), as
/// `data/accounts.csv` ships it. Business index 5 has no schedule on purpose: metrics must
/// show business-hours durations as null for it, not zero.
pub fn accounts_csv(n: usize) -> String {
    let mut out = String::from(
        "business_id,name,address,vat_id,country,currency,timezone,billing_email,tax_pct,markup_pct,\
         monthly_fee,payment_terms_days,active_from,active_to,auth_intl_eligible,\
         sla_first_response_minutes,business_hours\n",
    );
    let names = [
        ("Banco", "Bank"),
        ("Air", "Airline"),
        ("Shop", "Shop"),
        ("Tel", "Telco"),
    ];
    for (i, b) in make_businesses(n).iter().enumerate() {
        let (_, tz, country, currency) = HOMES[i % HOMES.len()];
        let (prefix, kind) = names[i % 4];
        let name = format!(
            "{prefix} {} {kind} {}",
            [
                "Aurora", "Boreal", "Cobalt", "Delta", "Ember", "Fjord", "Granite", "Harbor",
                "Indigo", "Juniper"
            ][i % 10],
            i + 1
        );
        let hours = match (i, b.hours) {
            (5, _) => String::new(),
            (_, Some((open, close))) => {
                format!("mon-fri {open:02}:00-{close:02}:00; sat 10:00-14:00")
            }
            (_, None) => "mon-sun 00:00-24:00".to_string(),
        };
        let tax = match country {
            "DE" => "19",
            "ES" => "21",
            "GB" => "20",
            "IN" => "18",
            "MX" => "16",
            "BR" => "0",
            _ => "0",
        };
        out.push_str(&format!(
            "{id},{name},\"{n} Example Street, {country}\",{country}VAT{id6},{country},{currency},{tz},billing+{id}@example.com,{tax},{markup},{fee},{terms},2022-01-01,,{intl},{sla},{hours}\n",
            id = b.id,
            n = 10 + i,
            id6 = &b.id[b.id.len() - 6..],
            markup = [0, 5, 10, 15][i % 4],
            fee = ["0.00", "99.00", "250.00", "0.00"][i % 4],
            terms = [30, 14, 45, 30][i % 4],
            intl = i % 3 == 0,
            sla = [15, 30, 60, 10][i % 4],
        ));
    }
    out
}

fn make_customers(n: usize, rng: &mut ChaCha8Rng) -> Vec<Customer> {
    let total: f64 = COUNTRIES.iter().map(|c| c.3).sum();
    let first_names = [
        "Ana", "João", "Priya", "Budi", "Emma", "Lukas", "Sofía", "Chinedu", "Aisha", "Omar",
        "Mei", "Ivan",
    ];
    (0..n)
        .map(|i| {
            let mut x = rng.gen_range(0.0..total);
            let mut chosen = COUNTRIES[0];
            for c in COUNTRIES {
                if x < c.3 {
                    chosen = *c;
                    break;
                }
                x -= c.3;
            }
            let (cc, len, _, _) = chosen;
            let mut digits = cc.to_string();
            // Mobile-looking national numbers: first digit not 0/1.
            digits.push(char::from(b'2' + rng.gen_range(0..8u8)));
            for _ in 1..len {
                digits.push(char::from(b'0' + rng.gen_range(0..10u8)));
            }
            Customer {
                user_id: rng.gen_bool(0.05).then(|| {
                    format!(
                        "{}.{:019}",
                        ["US", "BR", "IN", "MX"][i % 4],
                        rng.gen::<u64>() % 10_000_000_000_000_000_000
                    )
                }),
                digits,
                name: first_names[i % first_names.len()].to_string(),
            }
        })
        .collect()
}

/// Era of the pricing the platform reported, by the message's date.
fn reported_model(ts: i64) -> (&'static str, u8) {
    // 0: 2022 CBP two kinds; 1: CBP four categories; 2: CBP free service; 3: PMP; 4: PMP 2026-10
    let t = ts;
    if t < 1_685_577_600 {
        ("CBP", 0)
    } else if t < 1_730_419_200 {
        ("CBP", 1)
    } else if t < 1_751_328_000 {
        ("CBP", 2)
    } else if t < 1_790_812_800 {
        ("PMP", 3)
    } else {
        ("PMP", 4)
    }
}

struct Outbound {
    ts: i64,
    template: Option<&'static str>,
    sender: &'static str,
    agent: Option<String>,
}

impl World {
    fn next_id(&mut self, prefix: &str) -> String {
        self.counter += 1;
        format!(
            "{prefix}{:016x}",
            self.counter.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ self.opts.seed
        )
    }

    fn is_open(&self, b: &Business, ts: i64) -> bool {
        let Some((open, close)) = b.hours else {
            return true;
        };
        let local =
            b.tz.timestamp_opt(ts, 0)
                .single()
                .map(|t| (t.weekday(), t.hour()));
        match local {
            Some((Weekday::Sat | Weekday::Sun, _)) => false,
            Some((_, h)) => h >= open && h < close,
            None => false,
        }
    }

    /// Seconds until the business is next open (0 when open now).
    fn until_open(&self, b: &Business, ts: i64) -> i64 {
        let mut t = ts;
        for _ in 0..(24 * 4) {
            if self.is_open(b, t) {
                return t - ts;
            }
            t += 3600 - t.rem_euclid(3600);
        }
        t - ts
    }

    /// One thread; returns how many records it emitted.
    fn thread(&mut self, bi: usize, start: i64, rng: &mut ChaCha8Rng, em: &mut Emitter) -> u64 {
        let b = self.businesses[bi].clone();
        let ci = *self.audience[bi]
            .choose(rng)
            .expect("audience is never empty");
        let mut records = 0;
        if rng.gen_bool(0.6) {
            records += self.support_thread(&b, bi, ci, start, rng, em);
        } else {
            let category = {
                let x: f64 = rng.gen_range(0.0..b.template_mix.iter().sum::<f64>());
                if x < b.template_mix[0] {
                    "marketing"
                } else if x < b.template_mix[0] + b.template_mix[1] {
                    "utility"
                } else {
                    "authentication"
                }
            };
            let out = Outbound {
                ts: start,
                template: Some(category),
                sender: "system",
                agent: None,
            };
            records += self.outbound(&b, bi, ci, out, rng, em);
            // Sometimes the customer answers a template: a support thread follows.
            if rng.gen_bool(0.15) {
                let later = start + rng.gen_range(60..7200);
                records += self.support_thread(&b, bi, ci, later, rng, em);
            }
        }
        records
    }

    fn support_thread(
        &mut self,
        b: &Business,
        bi: usize,
        ci: usize,
        start: i64,
        rng: &mut ChaCha8Rng,
        em: &mut Emitter,
    ) -> u64 {
        let mut records = 0;
        let referral = rng.gen_bool(0.05);
        let rounds = if rng.gen_bool(0.7) {
            1
        } else {
            rng.gen_range(2..4)
        };
        let mut t = start;
        let mut case: Option<String> = None;
        let open_case = self.opts.format.is_event_log() && rng.gen_bool(0.12);
        for round in 0..rounds {
            let burst = if rng.gen_bool(0.6) {
                1
            } else {
                rng.gen_range(2..5)
            };
            for k in 0..burst {
                records += self.inbound(b, bi, ci, t, referral && round == 0 && k == 0, rng, em);
                t += rng.gen_range(5..90);
            }
            if open_case && case.is_none() {
                let id = self.next_id("case-");
                records += self.case_event(b, ci, t, &id, CaseEvent::Opened, rng, em);
                case = Some(id);
            }
            // Answered at all?
            if !rng.gen_bool(b.answer_rate) {
                break;
            }
            if rng.gen_bool(b.bot_share) {
                let bot_t = t + rng.gen_range(1..15);
                records += self.outbound(
                    b,
                    bi,
                    ci,
                    Outbound {
                        ts: bot_t,
                        template: None,
                        sender: "bot",
                        agent: None,
                    },
                    rng,
                    em,
                );
                t = bot_t;
                if rng.gen_bool(0.5) {
                    continue; // the bot settled it
                }
            }
            let delay = LogNormal::new(b.median_reply.ln(), 1.35)
                .expect("valid")
                .sample(rng);
            let wait_closed = self.until_open(b, t);
            let reply = t + wait_closed + delay.min(6.0 * 86_400.0) as i64 + 1;
            let agent = format!("agent-{}", rng.gen_range(1..=b.agents));
            records += self.outbound(
                b,
                bi,
                ci,
                Outbound {
                    ts: reply,
                    template: None,
                    sender: "agent",
                    agent: Some(agent.clone()),
                },
                rng,
                em,
            );
            t = reply + rng.gen_range(30..1800);
            if let Some(id) = &case {
                if round == 0 {
                    let id = id.clone();
                    records += self.case_event(
                        b,
                        ci,
                        reply + 5,
                        &id,
                        CaseEvent::Status("pending", Some(agent.clone())),
                        rng,
                        em,
                    );
                }
            }
        }
        if let Some(id) = case {
            let resolve = t + LogNormal::new((4.0f64 * 3600.0).ln(), 1.2)
                .expect("valid")
                .sample(rng) as i64;
            records += self.case_event(
                b,
                ci,
                resolve,
                &id,
                CaseEvent::Status("resolved", None),
                rng,
                em,
            );
            let mut end = resolve;
            if rng.gen_bool(0.1) {
                let reopened = resolve + rng.gen_range(3600..3 * 86_400);
                records += self.case_event(
                    b,
                    ci,
                    reopened,
                    &id,
                    CaseEvent::Status("reopened", None),
                    rng,
                    em,
                );
                end = reopened
                    + LogNormal::new((6.0f64 * 3600.0).ln(), 1.0)
                        .expect("valid")
                        .sample(rng) as i64;
                records += self.case_event(
                    b,
                    ci,
                    end,
                    &id,
                    CaseEvent::Status("resolved", None),
                    rng,
                    em,
                );
            }
            if rng.gen_bool(0.6) {
                let rating = *[1, 2, 3, 4, 4, 5, 5, 5].choose(rng).expect("non-empty");
                records += self.case_event(
                    b,
                    ci,
                    end + rng.gen_range(60..86_400),
                    &id,
                    CaseEvent::Rating(rating),
                    rng,
                    em,
                );
            }
            records += self.case_event(
                b,
                ci,
                end + 86_400,
                &id,
                CaseEvent::Status("closed", None),
                rng,
                em,
            );
        }
        records
    }

    fn customer_fields(&self, ci: usize, ts: i64) -> (Option<String>, Option<String>) {
        let c = &self.customers[ci];
        // From 2026 some customers are known only by their business-scoped user id.
        if ts >= 1_767_225_600 {
            if let Some(u) = &c.user_id {
                return (None, Some(u.clone()));
            }
        }
        (Some(c.digits.clone()), c.user_id.clone())
    }

    #[allow(clippy::too_many_arguments)]
    fn inbound(
        &mut self,
        b: &Business,
        bi: usize,
        ci: usize,
        ts: i64,
        referral: bool,
        rng: &mut ChaCha8Rng,
        em: &mut Emitter,
    ) -> u64 {
        let id = self.next_id("wamid.HBgM");
        let st = self.pairs.entry((bi, ci)).or_default();
        st.last_inbound = Some(ts);
        if referral {
            st.fep_until = Some(ts + 24 * 3600);
        }
        let words: Vec<&str> = (0..rng.gen_range(3..14))
            .map(|_| *WORDS.choose(rng).expect("words"))
            .collect();
        let text = words.join(" ");
        let kind = if rng.gen_bool(0.9) {
            "text"
        } else {
            ["image", "reaction", "interactive", "button"][rng.gen_range(0..4)]
        };
        let (phone, user) = self.customer_fields(ci, ts);
        let line = match self.opts.format {
            TrafficFormat::Whatsapp => {
                let mut msg = json!({"id": id, "timestamp": ts.to_string(), "type": kind, "text": {"body": text}});
                match &phone {
                    Some(p) => msg["from"] = json!(p),
                    None => msg["from_user_id"] = json!(user),
                }
                if referral {
                    msg["referral"] = json!({"source_url": "https://fb.me/ad", "source_type": "ad", "source_id": "120200000000", "headline": "Chat with us", "ctwa_clid": "ARAkLkA8rmlFeiCktEJQ"});
                }
                let mut contact = json!({"profile": {"name": self.customers[ci].name}});
                if let Some(p) = &phone {
                    contact["wa_id"] = json!(p);
                }
                if let Some(u) = &user {
                    contact["user_id"] = json!(u);
                }
                webhook(b, json!({"contacts": [contact], "messages": [msg]}))
            }
            TrafficFormat::Events | TrafficFormat::EventsCsv => {
                let customer = phone.map(|p| format!("+{p}")).or(user).unwrap_or_default();
                let mut rec = json!({"event_id": self.next_id("ev-"), "ts": self.event_time(b, ts, rng), "type": "message_in", "business_id": b.id, "customer": customer, "message_id": id, "message_type": kind});
                if referral {
                    rec["referral"] = json!(true);
                }
                rec.to_string().into_bytes()
            }
        };
        self.emit(em, ts, line, rng)
    }

    /// Event-log timestamps come in the shapes the spec allows: RFC 3339 in the business's
    /// offset, or epoch milliseconds.
    fn event_time(&self, b: &Business, ts: i64, rng: &mut ChaCha8Rng) -> serde_json::Value {
        if rng.gen_bool(0.15) {
            json!(ts * 1000 + rng.gen_range(0..1000))
        } else {
            let t =
                b.tz.timestamp_opt(ts, 0)
                    .single()
                    .unwrap_or_else(|| b.tz.timestamp_opt(0, 0).unwrap());
            json!(t.to_rfc3339())
        }
    }

    /// Send an outbound message and its statuses; returns records emitted.
    fn outbound(
        &mut self,
        b: &Business,
        bi: usize,
        ci: usize,
        out: Outbound,
        rng: &mut ChaCha8Rng,
        em: &mut Emitter,
    ) -> u64 {
        let id = self.next_id("wamid.HBgL");
        let mut records = 0;
        let (phone, user) = self.customer_fields(ci, out.ts);
        if self.opts.format.is_event_log() {
            let customer = phone
                .clone()
                .map(|p| format!("+{p}"))
                .or(user.clone())
                .unwrap_or_default();
            let mut rec = json!({"event_id": self.next_id("ev-"), "ts": self.event_time(b, out.ts, rng), "type": "message_out", "business_id": b.id, "customer": customer, "message_id": id, "message_type": if out.template.is_some() { "template" } else { "text" }, "sender": out.sender});
            if let Some(c) = out.template {
                rec["template_category"] = json!(c);
            }
            if let Some(a) = &out.agent {
                rec["agent_id"] = json!(a);
            }
            records += self.emit(em, out.ts, rec.to_string().into_bytes(), rng);
        }
        // Delivery: 2 % fail; a delivered message is read 65 % of the time.
        let failed = rng.gen_bool(0.02);
        let sent_at = out.ts + rng.gen_range(0..3);
        let delivered_at = sent_at + rng.gen_range(1..20);
        let read_at = delivered_at + rng.gen_range(5..4 * 3600);
        let pricing = self.pricing(bi, ci, &out, delivered_at);
        let mut statuses: Vec<(&str, i64)> = vec![("sent", sent_at)];
        if failed {
            statuses.push(("failed", sent_at + rng.gen_range(1..60)));
        } else {
            let read = rng.gen_bool(0.65);
            // 3 % of read messages never report `delivered`.
            if !(read && rng.gen_bool(0.03)) {
                statuses.push(("delivered", delivered_at));
            }
            if read {
                statuses.push(("read", read_at));
            }
        }
        for (k, (status, at)) in statuses.into_iter().enumerate() {
            // Some statuses arrive out of order (a `read` before its `delivered`).
            let arrival = if rng.gen_bool(0.04) {
                at - rng.gen_range(0..30).min(at - sent_at)
            } else {
                at
            };
            let line = match self.opts.format {
                TrafficFormat::Whatsapp => {
                    let mut s = json!({"id": id, "status": status, "timestamp": at.to_string()});
                    match &phone {
                        Some(p) => s["recipient_id"] = json!(p),
                        None => s["recipient_user_id"] = json!(user),
                    }
                    if status != "failed" {
                        let (model, conv) = &pricing;
                        if *model == "CBP" {
                            if let Some((cid, exp, origin, billable)) = conv {
                                let mut c = json!({"id": cid, "origin": {"type": origin}});
                                if k == 0 {
                                    c["expiration_timestamp"] = json!(exp.to_string());
                                }
                                s["conversation"] = c;
                                s["pricing"] = json!({"billable": billable, "pricing_model": "CBP", "category": origin});
                            }
                        } else if let Some((_, _, category, ptype)) = conv {
                            let key = if rng.gen_bool(0.1) {
                                "pricing_type"
                            } else {
                                "type"
                            };
                            s["pricing"] = json!({"billable": ptype == "regular", "pricing_model": "PMP", "category": category, key: ptype});
                        }
                    } else {
                        s["errors"] = json!([{"code": 131026, "title": "Message undeliverable"}]);
                    }
                    let mut contact = json!({"profile": {"name": self.customers[ci].name}});
                    if let Some(p) = &phone {
                        contact["wa_id"] = json!(p);
                    }
                    if let Some(u) = &user {
                        contact["user_id"] = json!(u);
                    }
                    webhook(b, json!({"contacts": [contact], "statuses": [s]}))
                }
                TrafficFormat::Events | TrafficFormat::EventsCsv => {
                    let mut rec = json!({"event_id": self.next_id("ev-"), "ts": self.event_time(b, at, rng), "type": "status", "business_id": b.id, "message_id": id, "status": status});
                    if status == "failed" {
                        rec["error_code"] = json!("131026");
                    } else if let (model, Some((cid, _, category, ptype))) = &pricing {
                        rec["pricing_model"] = json!(model);
                        rec["pricing_category"] = json!(category);
                        if *model == "PMP" {
                            rec["pricing_type"] = json!(ptype);
                            rec["billable"] = json!(ptype == "regular");
                        } else {
                            rec["conversation_id"] = json!(cid);
                            rec["billable"] = json!(ptype == "true");
                        }
                    }
                    rec.to_string().into_bytes()
                }
            };
            records += self.emit(em, arrival, line, rng);
        }
        records
    }

    /// What the platform reports for a message delivered at `at`: for CBP the
    /// conversation (id, expiry, category, billable), for PMP (_, _, category, type).
    fn pricing(
        &mut self,
        bi: usize,
        ci: usize,
        out: &Outbound,
        at: i64,
    ) -> (&'static str, Option<(String, i64, String, String)>) {
        let (model, era) = reported_model(at);
        let st = self.pairs.entry((bi, ci)).or_default().clone();
        let in_csw = st.last_inbound.is_some_and(|t| at < t + 24 * 3600);
        let in_fep = st.fep_until.is_some_and(|t| at < t);
        if model == "PMP" {
            let (category, ptype) = match out.template {
                _ if in_fep => (out.template.unwrap_or("service"), "free_entry_point"),
                Some("utility") if in_csw && era == 3 => ("utility", "free_customer_service"),
                Some(c) => (c, "regular"),
                None if era == 3 => ("service", "free_customer_service"),
                None => ("service", "regular"),
            };
            return (
                "PMP",
                Some((String::new(), 0, category.to_string(), ptype.to_string())),
            );
        }
        let category = match (era, out.template) {
            (0, Some(_)) => "business_initiated",
            (0, None) => "user_initiated",
            (_, _) if in_fep => "referral_conversion",
            (_, Some(c)) => c,
            (_, None) => "service",
        };
        let st = self.pairs.entry((bi, ci)).or_default();
        st.open.retain(|(_, _, exp)| *exp > at);
        let joined = st
            .open
            .iter()
            .find(|(c, _, _)| c == category || (out.template.is_none() && era > 0) || era == 0)
            .cloned();
        let (cid, exp, cat) = match joined {
            Some((c, id, exp)) => (id, exp, c),
            None => {
                self.counter += 1;
                let id = format!(
                    "{:032x}",
                    (self.counter as u128).wrapping_mul(0x2545_F491_4F6C_DD1D_9E37_79B9_7F4A_7C15)
                );
                let exp = at
                    + if category == "referral_conversion" {
                        72 * 3600
                    } else {
                        24 * 3600
                    };
                let st = self.pairs.entry((bi, ci)).or_default();
                st.open.push((category.to_string(), id.clone(), exp));
                (id, exp, category.to_string())
            }
        };
        let billable = !(cat == "referral_conversion" || (cat == "service" && era == 2));
        ("CBP", Some((cid, exp, cat, billable.to_string())))
    }

    #[allow(clippy::too_many_arguments)]
    fn case_event(
        &mut self,
        b: &Business,
        ci: usize,
        ts: i64,
        case_id: &str,
        what: CaseEvent,
        rng: &mut ChaCha8Rng,
        em: &mut Emitter,
    ) -> u64 {
        let mut rec = json!({"event_id": self.next_id("ev-"), "ts": self.event_time(b, ts, rng), "business_id": b.id, "case_id": case_id});
        match what {
            CaseEvent::Opened => {
                rec["type"] = json!("case_opened");
                rec["customer"] = json!(format!("+{}", self.customers[ci].digits));
                rec["case_kind"] = json!(if rng.gen_bool(0.45) {
                    "complaint"
                } else {
                    "request"
                });
                rec["case_category"] = json!(b
                    .vertical
                    .case_categories()
                    .choose(rng)
                    .expect("categories"));
                rec["priority"] = json!(["low", "normal", "high"][rng.gen_range(0..3)]);
            }
            CaseEvent::Status(s, agent) => {
                rec["type"] = json!("case_status");
                rec["case_status"] = json!(s);
                if let Some(a) = agent {
                    rec["agent_id"] = json!(a);
                }
            }
            CaseEvent::Rating(r) => {
                rec["type"] = json!("case_rating");
                rec["rating"] = json!(r);
            }
        }
        self.emit(em, ts, rec.to_string().into_bytes(), rng)
    }

    /// Queue a line, with the platform's imperfections: ~3 % retried (the same body again,
    /// seconds to minutes later), ~0.5 % arriving one to three days late, ~0.05 % corrupt.
    fn emit(&mut self, em: &mut Emitter, ts: i64, line: Vec<u8>, rng: &mut ChaCha8Rng) -> u64 {
        let records = 1;
        let arrival = if rng.gen_bool(0.005) {
            ts + rng.gen_range(86_400..3 * 86_400)
        } else {
            ts
        };
        let mut extra = 0;
        if rng.gen_bool(0.0005) {
            em.push(arrival, corrupt(&line, rng), 1);
            extra += 1;
        }
        if rng.gen_bool(0.03) {
            em.push(arrival + rng.gen_range(5..600), line.clone(), records);
            extra += records;
        }
        em.push(arrival, line, records);
        records + extra
    }
}

enum CaseEvent {
    Opened,
    Status(&'static str, Option<String>),
    Rating(i64),
}

fn webhook(b: &Business, mut value: serde_json::Value) -> Vec<u8> {
    value["messaging_product"] = json!("whatsapp");
    value["metadata"] =
        json!({"display_phone_number": b.display_number, "phone_number_id": b.phone_number_id});
    json!({"object": "whatsapp_business_account", "entry": [{"id": b.id, "changes": [{"value": value, "field": "messages"}]}]})
        .to_string()
        .into_bytes()
}

/// A corrupt copy of a line: cut short, or with bytes that are not UTF-8.
fn corrupt(line: &[u8], rng: &mut ChaCha8Rng) -> Vec<u8> {
    if rng.gen_bool(0.5) {
        line[..line.len() / 2].to_vec()
    } else {
        let mut l = line.to_vec();
        let at = l.len() / 3;
        l[at] = 0xff;
        l
    }
}

struct DayFiles {
    paths: Vec<PathBuf>,
    writers: Vec<BufWriter<File>>,
    bytes: u64,
    /// Event-log records are written as CSV rows of these fields.
    csv: bool,
}

/// An event-log record (one JSON line) as a CSV row of the event log's fields. A corrupt
/// line (not JSON) is written as it is: a row the reader must quarantine.
fn csv_row(line: &[u8]) -> Vec<u8> {
    let Ok(serde_json::Value::Object(rec)) = serde_json::from_slice::<serde_json::Value>(line)
    else {
        return line.to_vec();
    };
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    let cells: Vec<String> = crate::ingest::EVENT_LOG_FIELDS
        .iter()
        .map(|f| match rec.get(*f) {
            None | Some(serde_json::Value::Null) => String::new(),
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(v) => v.to_string(),
        })
        .collect();
    let _ = w.write_record(&cells);
    let mut row = w.into_inner().unwrap_or_default();
    row.pop(); // the terminator: `write` adds the newline
    row
}

impl DayFiles {
    fn open(dir: &Path, format: TrafficFormat, day: NaiveDate, n: u32) -> Result<DayFiles> {
        let (prefix, ext) = match format {
            TrafficFormat::Whatsapp => ("whatsapp", "ndjson"),
            TrafficFormat::Events => ("events", "ndjson"),
            TrafficFormat::EventsCsv => ("events", "csv"),
        };
        let csv = format == TrafficFormat::EventsCsv;
        let mut paths = Vec::new();
        let mut writers = Vec::new();
        for k in 0..n {
            let path = dir.join(format!(
                "{prefix}-{}-part{k:02}.{ext}",
                day.format("%Y-%m-%d")
            ));
            let f = File::create(&path).map_err(write_err(&path))?;
            let mut w = BufWriter::with_capacity(1 << 20, f);
            if csv {
                let mut header = crate::ingest::EVENT_LOG_FIELDS.join(",");
                header.push('\n');
                w.write_all(header.as_bytes()).map_err(write_err(&path))?;
            }
            writers.push(w);
            paths.push(path);
        }
        Ok(DayFiles {
            paths,
            writers,
            bytes: 0,
            csv,
        })
    }

    fn write(&mut self, k: usize, line: &[u8]) -> Result<()> {
        let converted;
        let line = if self.csv {
            converted = csv_row(line);
            &converted
        } else {
            line
        };
        let k = k.min(self.writers.len() - 1);
        let w = &mut self.writers[k];
        w.write_all(line)
            .and_then(|()| w.write_all(b"\n"))
            .map_err(write_err(&self.paths[k]))?;
        self.bytes += line.len() as u64 + 1;
        Ok(())
    }

    fn finish(self) -> Result<(Vec<PathBuf>, u64)> {
        for (w, p) in self.writers.into_iter().zip(&self.paths) {
            w.into_inner()
                .map_err(|e| write_err(p)(e.into_error()))?
                .sync_all()
                .map_err(write_err(p))?;
        }
        Ok((self.paths, self.bytes))
    }
}
