#!/usr/bin/env python3
"""Generate data/rate_card.csv, msgmeter's shipped WhatsApp rate card.

Run:  python3 scripts/make_rate_card.py [--output PATH] [--check-against CSV]

Python 3.11, standard library only. All arithmetic uses decimal.Decimal (never
float); every rounding is ROUND_HALF_UP, which in the decimal module means
"half away from zero". The output is deterministic: no timestamps, fixed row
order, "\\n" line endings, so two runs produce identical bytes.

File format (billing.md section 6)
----------------------------------
    valid_from,currency,model,market,category,tier_from,rate,source

preceded by "#" comment lines. Each valid_from publishes a complete price for a
(currency, model, market, category) key: its rows (one per tier) replace every
earlier row of that key. tier_from is empty for a single base rate, or 1, N2,
N3... for graduated volume tiers. source is "published" or "illustrative".

Where every number comes from
-----------------------------
PUBLISHED (USD only). Transcribed from /work/shared/data/rates/ (spec input):

  * README.md, which quotes Meta's public WhatsApp rate cards:
      - 2022-02-01, CBP, business_initiated / user_initiated, for Mexico,
        North America, India, United Kingdom and Brazil   -> PUBLISHED_2022_02
      - 2023-06-01, CBP, marketing / utility / authentication / service, for
        Argentina, Brazil, Chile, Colombia, Egypt, France, Germany, India,
        Indonesia, Israel                                  -> PUBLISHED_2023_06
      - 2025-07-01, PMP, marketing / utility / authentication, for Argentina,
        Rest of Latin America, Rest of Africa, Rest of Western Europe, Other
                                                           -> PUBLISHED_2025_07
      - 2026-07-01, PMP, Chile 0.0889 / 0.0200 / 0.0200    -> PUBLISHED_2026_07
  * per_message_usd_2026-01-01.csv: the 2026-01-01 PMP card for all 32
    markets (marketing, utility, authentication, and authentication_international
    for the 9 markets that have one), embedded verbatim below as
    PUBLISHED_2026_01_CSV. The README says these figures were transcribed
    identically by two independent public sources but not verified against
    Meta's own file: they are the best public figures, not Meta's word.
    --check-against compares the embedded copy with that file and aborts on
    any difference.

ILLUSTRATIVE USD (no published figure for that market, era and category).
Derived market by market from published figures, rounded to 5 decimal places
(the precision of Meta's CBP figures). Each step starts from the value already
rounded and written to the card, so anyone can redo it from the card itself:

  * 2023-06-01 CBP (22 markets without a published 2023 figure), from the
    market's published 2026-01-01 PMP marketing rate M26:
        marketing      = M26 x 1.2
        utility        = marketing x 0.6
        authentication = utility x 0.9
        service        = marketing x 0.5
    The factors are the medians, rounded, over the 10 markets where the 2023
    card is published: 2023 marketing / 2026 marketing = 1.2 (exactly 1.2 for
    8 of the 10), utility / marketing = 0.59, authentication / utility = 0.90,
    service / marketing = 0.51.
  * 2022-02-01 CBP (27 markets without a published 2022 figure), from the
    market's 2023-06-01 figures (published where available, else the
    illustrative ones above):
        business_initiated = 2023 marketing x 0.8
        user_initiated     = 2023 service   x 1.0
    Calibrated on the two markets published in both eras: Brazil
    (0.06 / 0.075 = 0.8; 0.036 / 0.036 = 1) and India (0.00792 / 0.01188 = 0.67;
    0.0048 / 0.0048 = 1).
  * 2025-07-01 PMP (27 markets without a published 2025-07 figure, and every
    authentication_international rate): the market's published 2026-01-01
    figure, labelled illustrative for this date. For the 5 published markets
    the README and the 2026 card agree except Argentina utility/authentication
    (0.0289 in 2025-07, 0.0260 in 2026-01), so this is a close proxy. No
    service rows in this era: service messages are free (billing.md section 1).
  * 2026-10-01 PMP service, every market: equal to that market's utility base
    rate in force on 2026-10-01 (the 2026-01-01 figure, or Chile's 2026-07-01
    one), because the spec prices service at the utility rate from that date.
    Single row, tier_from empty, illustrative.

ILLUSTRATIVE VOLUME TIERS. Meta's tier thresholds are not public in a reliable
form (rates README). For PMP utility, authentication and
authentication_international keys, at every valid_from that publishes them
(2025-07-01, 2026-01-01, 2026-07-01), the base rate is written as graduated
tiers (TIERS below):
        tier_from 1        -> base            (keeps the base's label)
        tier_from 1000001  -> base x 0.95     (illustrative)
        tier_from 5000001  -> base x 0.90     (illustrative)
        tier_from 10000001 -> base x 0.85     (illustrative)
        tier_from 25000001 -> base x 0.80     (illustrative)
rounded to 8 decimal places. Marketing and service keep one row (tier_from
empty).

ILLUSTRATIVE CURRENCIES. Meta publishes these cards in USD. Every EUR, GBP and
INR row is the USD row of the same key, date and tier_from multiplied by a
fixed factor (FX_PER_USD: EUR 0.92, GBP 0.79, INR 83.0) and rounded to 8
decimal places; always labelled illustrative.

Row order: valid_from, currency, model, market (plain string order), category,
tier_from (numeric, empty first).
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

D = Decimal

# --------------------------------------------------------------------------
# Markets (exact spelling used by data/markets.csv and the pricing code).
# --------------------------------------------------------------------------
MARKETS = [
    "Argentina", "Brazil", "Chile", "Colombia", "Egypt", "France", "Germany",
    "India", "Indonesia", "Israel", "Italy", "Malaysia", "Mexico",
    "Netherlands", "Nigeria", "Pakistan", "Peru", "Russia", "Saudi Arabia",
    "South Africa", "Spain", "Turkey", "United Arab Emirates",
    "United Kingdom", "North America", "Rest of Africa",
    "Rest of Asia Pacific", "Rest of Central & Eastern Europe",
    "Rest of Latin America", "Rest of Middle East", "Rest of Western Europe",
    "Other",
]

# --------------------------------------------------------------------------
# Published USD figures (see the module docstring for sources).
# --------------------------------------------------------------------------

# 2022-02-01 CBP: (business_initiated, user_initiated), rates README.
PUBLISHED_2022_02 = {
    "Mexico": ("0.04188", "0.0126"),
    "North America": ("0.01764", "0.01056"),
    "India": ("0.00792", "0.0048"),
    "United Kingdom": ("0.07764", "0.04656"),
    "Brazil": ("0.06", "0.036"),
}

# 2023-06-01 CBP: (marketing, utility, authentication, service), rates README.
PUBLISHED_2023_06 = {
    "Argentina": ("0.07416", "0.04896", "0.04404", "0.03792"),
    "Brazil": ("0.075", "0.042", "0.0378", "0.036"),
    "Chile": ("0.10668", "0.07032", "0.06324", "0.05448"),
    "Colombia": ("0.015", "0.0102", "0.00924", "0.0072"),
    "Egypt": ("0.12876", "0.08244", "0.07416", "0.07728"),
    "France": ("0.17184", "0.09216", "0.08292", "0.10308"),
    "Germany": ("0.1638", "0.10236", "0.09216", "0.09828"),
    "India": ("0.01188", "0.00504", "0.00504", "0.0048"),
    "Indonesia": ("0.04932", "0.024", "0.036", "0.0228"),
    "Israel": ("0.04236", "0.02256", "0.02028", "0.0216"),
}

# 2025-07-01 PMP: (marketing, utility, authentication), rates README.
PUBLISHED_2025_07 = {
    "Argentina": ("0.0618", "0.0289", "0.0289"),
    "Rest of Latin America": ("0.0740", "0.0113", "0.0113"),
    "Rest of Africa": ("0.0225", "0.0040", "0.0040"),
    "Rest of Western Europe": ("0.0592", "0.0171", "0.0171"),
    "Other": ("0.0604", "0.0077", "0.0077"),
}

# 2026-01-01 PMP: verbatim copy of
# /work/shared/data/rates/per_message_usd_2026-01-01.csv
PUBLISHED_2026_01_CSV = """\
market,currency,marketing,utility,authentication,authentication_international
Argentina,USD,0.0618,0.0260,0.0260,
Brazil,USD,0.0625,0.0068,0.0068,
Chile,USD,0.0889,0.0200,0.0200,
Colombia,USD,0.0125,0.0008,0.0008,
Egypt,USD,0.0644,0.0036,0.0036,0.0650
France,USD,0.0859,0.0300,0.0300,
Germany,USD,0.1365,0.0550,0.0550,
India,USD,0.0118,0.0014,0.0014,0.0280
Indonesia,USD,0.0411,0.0250,0.0250,0.1360
Israel,USD,0.0353,0.0053,0.0053,
Italy,USD,0.0691,0.0300,0.0300,
Malaysia,USD,0.0860,0.0140,0.0140,0.0418
Mexico,USD,0.0305,0.0085,0.0085,
Netherlands,USD,0.1597,0.0500,0.0500,
Nigeria,USD,0.0516,0.0067,0.0067,0.0750
Pakistan,USD,0.0473,0.0054,0.0054,0.0750
Peru,USD,0.0703,0.0200,0.0200,
Russia,USD,0.0802,0.0400,0.0400,
Saudi Arabia,USD,0.0455,0.0107,0.0107,0.0598
South Africa,USD,0.0379,0.0076,0.0076,0.0200
Spain,USD,0.0615,0.0200,0.0200,
Turkey,USD,0.0109,0.0053,0.0053,
United Arab Emirates,USD,0.0499,0.0157,0.0157,0.0510
United Kingdom,USD,0.0529,0.0220,0.0220,
North America,USD,0.0250,0.0034,0.0034,
Rest of Africa,USD,0.0225,0.0040,0.0040,
Rest of Asia Pacific,USD,0.0732,0.0113,0.0113,
Rest of Central & Eastern Europe,USD,0.0860,0.0212,0.0212,
Rest of Latin America,USD,0.0740,0.0113,0.0113,
Rest of Middle East,USD,0.0341,0.0091,0.0091,
Rest of Western Europe,USD,0.0592,0.0171,0.0171,
Other,USD,0.0604,0.0077,0.0077,
"""
DEFAULT_SHARED_CSV = Path("/work/shared/data/rates/per_message_usd_2026-01-01.csv")

# 2026-07-01 PMP: (marketing, utility, authentication), rates README.
PUBLISHED_2026_07 = {"Chile": ("0.0889", "0.0200", "0.0200")}

# --------------------------------------------------------------------------
# Derivation constants for illustrative values (documented in the docstring).
# --------------------------------------------------------------------------
CBP2023_MARKETING_PER_PMP2026_MARKETING = D("1.2")
CBP2023_UTILITY_PER_MARKETING = D("0.6")
CBP2023_AUTHENTICATION_PER_UTILITY = D("0.9")
CBP2023_SERVICE_PER_MARKETING = D("0.5")
CBP2022_BUSINESS_PER_2023_MARKETING = D("0.8")
CBP2022_USER_PER_2023_SERVICE = D("1.0")

ILLUSTRATIVE_USD_PLACES = D("0.00001")   # 5 dp, like Meta's CBP figures
OUTPUT_PLACES = D("0.00000001")          # 8 dp, the card's maximum

# Illustrative graduated volume tiers: (tier_from, multiplier of the base).
TIERS = [
    (1, D("1")),
    (1_000_001, D("0.95")),
    (5_000_001, D("0.90")),
    (10_000_001, D("0.85")),
    (25_000_001, D("0.80")),
]
TIERED_CATEGORIES = {"utility", "authentication", "authentication_international"}

# Illustrative fixed conversion factors: units of currency per 1 USD.
FX_PER_USD = {"EUR": D("0.92"), "GBP": D("0.79"), "INR": D("83.0")}
CURRENCIES = ["USD", *FX_PER_USD]

PUBLISHED = "published"
ILLUSTRATIVE = "illustrative"

CBP_2022 = "2022-02-01"
CBP_2023 = "2023-06-01"
PMP_2025 = "2025-07-01"
PMP_2026 = "2026-01-01"
PMP_2026_07 = "2026-07-01"
SERVICE_2026_10 = "2026-10-01"


def round_to(value: Decimal, places: Decimal) -> Decimal:
    """Round half away from zero to the exponent of `places`."""
    return value.quantize(places, rounding=ROUND_HALF_UP)


def fmt(rate: Decimal) -> str:
    """Plain decimal text: no exponent, no trailing zeros, >= 1 decimal digit."""
    text = format(rate.normalize(), "f")
    if "." not in text:
        text += ".0"
    return text


def load_2026_01() -> dict[str, dict[str, Decimal]]:
    """Parse the embedded 2026-01-01 card: market -> {category: USD rate}."""
    out: dict[str, dict[str, Decimal]] = {}
    for row in csv.DictReader(io.StringIO(PUBLISHED_2026_01_CSV)):
        assert row["currency"] == "USD", row
        rates = {}
        for cat in ("marketing", "utility", "authentication",
                    "authentication_international"):
            if row[cat].strip():
                rates[cat] = D(row[cat])
        out[row["market"]] = rates
    return out


def check_against(path: Path) -> None:
    """Abort if the embedded 2026-01-01 card differs from the shared file."""
    shared = path.read_text(encoding="utf-8").replace("\r\n", "\n")
    if shared.strip() != PUBLISHED_2026_01_CSV.strip():
        sys.exit(f"embedded 2026-01-01 card differs from {path}")


def usd_base_rows() -> list[tuple[str, str, str, str, Decimal, str]]:
    """Every USD base price: (valid_from, model, market, category, rate, source)."""
    pmp26 = load_2026_01()
    assert sorted(pmp26) == sorted(MARKETS), "2026-01-01 card must cover all markets"
    rows = []

    for market in MARKETS:
        # ---- 2023-06-01 CBP (computed first: the 2022 era derives from it).
        if market in PUBLISHED_2023_06:
            mkt, utl, auth, svc = (D(x) for x in PUBLISHED_2023_06[market])
            src23 = PUBLISHED
        else:
            mkt = round_to(pmp26[market]["marketing"]
                           * CBP2023_MARKETING_PER_PMP2026_MARKETING,
                           ILLUSTRATIVE_USD_PLACES)
            utl = round_to(mkt * CBP2023_UTILITY_PER_MARKETING,
                           ILLUSTRATIVE_USD_PLACES)
            auth = round_to(utl * CBP2023_AUTHENTICATION_PER_UTILITY,
                            ILLUSTRATIVE_USD_PLACES)
            svc = round_to(mkt * CBP2023_SERVICE_PER_MARKETING,
                           ILLUSTRATIVE_USD_PLACES)
            src23 = ILLUSTRATIVE

        # ---- 2022-02-01 CBP.
        if market in PUBLISHED_2022_02:
            bi, ui = (D(x) for x in PUBLISHED_2022_02[market])
            src22 = PUBLISHED
        else:
            bi = round_to(mkt * CBP2022_BUSINESS_PER_2023_MARKETING,
                          ILLUSTRATIVE_USD_PLACES)
            ui = round_to(svc * CBP2022_USER_PER_2023_SERVICE,
                          ILLUSTRATIVE_USD_PLACES)
            src22 = ILLUSTRATIVE
        rows += [
            (CBP_2022, "CBP", market, "business_initiated", bi, src22),
            (CBP_2022, "CBP", market, "user_initiated", ui, src22),
            (CBP_2023, "CBP", market, "marketing", mkt, src23),
            (CBP_2023, "CBP", market, "utility", utl, src23),
            (CBP_2023, "CBP", market, "authentication", auth, src23),
            (CBP_2023, "CBP", market, "service", svc, src23),
        ]

        # ---- 2025-07-01 PMP (no service: free in this era).
        if market in PUBLISHED_2025_07:
            m, u, a = (D(x) for x in PUBLISHED_2025_07[market])
            rows += [
                (PMP_2025, "PMP", market, "marketing", m, PUBLISHED),
                (PMP_2025, "PMP", market, "utility", u, PUBLISHED),
                (PMP_2025, "PMP", market, "authentication", a, PUBLISHED),
            ]
        else:
            for cat in ("marketing", "utility", "authentication"):
                rows.append((PMP_2025, "PMP", market, cat,
                             pmp26[market][cat], ILLUSTRATIVE))
        if "authentication_international" in pmp26[market]:
            rows.append((PMP_2025, "PMP", market, "authentication_international",
                         pmp26[market]["authentication_international"],
                         ILLUSTRATIVE))

        # ---- 2026-01-01 PMP, all published.
        for cat, rate in pmp26[market].items():
            rows.append((PMP_2026, "PMP", market, cat, rate, PUBLISHED))

        # ---- 2026-07-01 PMP (Chile only).
        utility_in_force = pmp26[market]["utility"]
        if market in PUBLISHED_2026_07:
            m, u, a = (D(x) for x in PUBLISHED_2026_07[market])
            rows += [
                (PMP_2026_07, "PMP", market, "marketing", m, PUBLISHED),
                (PMP_2026_07, "PMP", market, "utility", u, PUBLISHED),
                (PMP_2026_07, "PMP", market, "authentication", a, PUBLISHED),
            ]
            utility_in_force = u

        # ---- 2026-10-01 PMP service = utility base rate in force.
        rows.append((SERVICE_2026_10, "PMP", market, "service",
                     utility_in_force, ILLUSTRATIVE))
    return rows


def expand_tiers(base_rows):
    """Base rows -> USD card rows with tier_from ('' or an int)."""
    out = []
    for valid_from, model, market, cat, rate, source in base_rows:
        if model == "PMP" and cat in TIERED_CATEGORIES:
            for tier_from, mult in TIERS:
                if tier_from == 1:
                    out.append((valid_from, model, market, cat, 1, rate, source))
                else:
                    out.append((valid_from, model, market, cat, tier_from,
                                round_to(rate * mult, OUTPUT_PLACES),
                                ILLUSTRATIVE))
        else:
            out.append((valid_from, model, market, cat, "", rate, source))
    return out


def all_rows():
    """Every card row: (valid_from, currency, model, market, category,
    tier_from, rate, source), sorted."""
    usd = expand_tiers(usd_base_rows())
    rows = []
    for valid_from, model, market, cat, tier_from, rate, source in usd:
        rows.append((valid_from, "USD", model, market, cat, tier_from, rate, source))
        for cur, factor in FX_PER_USD.items():
            rows.append((valid_from, cur, model, market, cat, tier_from,
                         round_to(rate * factor, OUTPUT_PLACES), ILLUSTRATIVE))
    for r in rows:
        assert r[6] > 0, r
        if r[1] == "USD":
            assert D("0.0005") <= r[6] <= D("0.5"), r
    rows.sort(key=lambda r: (r[0], r[1], r[2], r[3], r[4],
                             -1 if r[5] == "" else r[5]))
    return rows


HEADER_COMMENT = f"""\
rate_card.csv - msgmeter reference data: WhatsApp Business Platform prices per
conversation (CBP) or per delivered template message (PMP), by currency, market and
category. Generated by scripts/make_rate_card.py (do not edit by hand; its docstring
documents every derivation). Semantics (spec billing.md section 6): each valid_from
publishes a complete price for a (currency, model, market, category) key; its rows (one
per tier) replace every earlier row of that key. tier_from empty = single base rate;
1, N2, ... = graduated volume tiers. Rates: decimals, at most 8 places.
source=published: USD figures from Meta's public WhatsApp rate cards as transcribed in
  the spec's rates data (data/rates/README.md; per_message_usd_2026-01-01.csv, transcribed
  identically by two independent public sources, not verified against Meta's own file -
  best public figures): 2022-02-01 CBP Mexico, North America, India, United Kingdom,
  Brazil; 2023-06-01 CBP Argentina, Brazil, Chile, Colombia, Egypt, France, Germany,
  India, Indonesia, Israel; 2025-07-01 PMP Argentina, Rest of Latin America, Rest of
  Africa, Rest of Western Europe, Other; 2026-01-01 PMP all markets; 2026-07-01 PMP Chile.
source=illustrative: everything else, derived deterministically (rounded half away from
  zero; illustrative USD to 5 places, tiers and conversions to 8):
  - 2023-06-01 CBP: marketing = the market's 2026-01-01 PMP marketing x {CBP2023_MARKETING_PER_PMP2026_MARKETING};
    utility = marketing x {CBP2023_UTILITY_PER_MARKETING}; authentication = utility x {CBP2023_AUTHENTICATION_PER_UTILITY}; service = marketing x {CBP2023_SERVICE_PER_MARKETING}
    (rounded medians over the 10 markets whose 2023 card is published).
  - 2022-02-01 CBP: business_initiated = 2023-06 marketing x {CBP2022_BUSINESS_PER_2023_MARKETING}; user_initiated =
    2023-06 service x {CBP2022_USER_PER_2023_SERVICE} (calibrated on Brazil and India, published in both eras).
  - 2025-07-01 PMP, the 27 other markets and every authentication_international row: the
    market's published 2026-01-01 figure. No service rows: service is free in that era.
  - 2026-10-01 PMP service: the market's utility base rate in force on 2026-10-01 (spec:
    service is priced at the utility rate from that date).
  - Volume tiers are ILLUSTRATIVE (Meta's thresholds are not reliably public): PMP utility,
    authentication and authentication_international at 2025-07-01, 2026-01-01, 2026-07-01:
    {"; ".join(f"from {t} = base x {m}" for t, m in TIERS[:3])};
    {"; ".join(f"from {t} = base x {m}" for t, m in TIERS[3:])}.
    The tier_from=1 row keeps the base's label; the others are illustrative.
  - EUR, GBP, INR: illustrative conversions of the USD row of the same key, date and tier at
    fixed factors {", ".join(f"1 USD = {f} {c}" for c, f in FX_PER_USD.items())}.
Row order: valid_from, currency, model, market, category, tier_from (empty first)."""


def render() -> str:
    buf = io.StringIO()
    for line in HEADER_COMMENT.splitlines():
        buf.write(f"# {line}".rstrip() + "\n")
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["valid_from", "currency", "model", "market", "category",
                     "tier_from", "rate", "source"])
    for valid_from, cur, model, market, cat, tier_from, rate, source in all_rows():
        writer.writerow([valid_from, cur, model, market, cat, tier_from,
                         fmt(rate), source])
    return buf.getvalue()


def main() -> None:
    default_out = Path(__file__).resolve().parent.parent / "data" / "rate_card.csv"
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--output", type=Path, default=default_out)
    ap.add_argument("--check-against", type=Path, default=None,
                    help="compare the embedded 2026-01-01 card with this CSV "
                         f"(default: {DEFAULT_SHARED_CSV} when it exists)")
    args = ap.parse_args()
    check = args.check_against or (DEFAULT_SHARED_CSV
                                   if DEFAULT_SHARED_CSV.exists() else None)
    if check is not None:
        check_against(check)
    text = render()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    with open(args.output, "w", encoding="utf-8", newline="") as fh:
        fh.write(text)
    print(f"wrote {args.output} ({text.count(chr(10))} lines)")


if __name__ == "__main__":
    main()
