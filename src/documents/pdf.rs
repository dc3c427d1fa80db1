//! The invoice as a PDF/A-3b (krilla: fonts embedded and subset, text shaped), laid out by a
//! small fixed form of our own from the same printable [`Page`] the HTML shows: issuer and
//! customer, number (or a DRAFT watermark), period, dates and terms, lines grouped by
//! market and category, VAT, total and the metering source billed; the table header
//! repeats after every page break, and every page says "page i / N".
//!
//! - Fonts are compiled in (`assets/fonts/`, Noto Sans, OFL): Latin, Greek and Cyrillic
//!   from Noto Sans, Arabic and Devanagari from their own faces; text is split into runs by
//!   script and each run drawn with the face that has its glyphs (Arabic right to left). A
//!   character no face has is drawn as `?` (PDF/A forbids a missing glyph).
//! - Deterministic: the creation date is the invoice's issue date, the document id its
//!   number (or business and month for a draft); krilla reads no clock.
//! - `f32` here is page geometry only (points, font sizes): every amount arrives as the
//!   text the invoice model formatted from exact decimals.
//! - Right-to-left text is ordered by the Unicode bidirectional algorithm (`unicode-bidi`)
//!   before it is drawn. A long text is cut to its column with `…`.

use krilla::color::rgb;
use krilla::configure::{Archival, ConfigurationBuilder};
use krilla::embed::{AssociationKind, EmbeddedFile, MimeType};
use krilla::geom::{PathBuilder, Point, Rect, Transform};
use krilla::metadata::{DateTime, Metadata};
use krilla::page::PageSettings;
use krilla::paint::{Fill, Stroke};
use krilla::text::{Font, TextDirection};
use krilla::{Document, SerializeSettings};

use super::page::Page;
use crate::error::{Error, Result};
use crate::invoicing::model::Invoice;

const NOTO_SANS: &[u8] = include_bytes!("../../assets/fonts/NotoSans-Regular.ttf");
const NOTO_SANS_BOLD: &[u8] = include_bytes!("../../assets/fonts/NotoSans-Bold.ttf");
const NOTO_ARABIC: &[u8] = include_bytes!("../../assets/fonts/NotoSansArabic-Regular.ttf");
const NOTO_ARABIC_BOLD: &[u8] = include_bytes!("../../assets/fonts/NotoSansArabic-Bold.ttf");
const NOTO_DEVANAGARI: &[u8] = include_bytes!("../../assets/fonts/NotoSansDevanagari-Regular.ttf");
const NOTO_DEVANAGARI_BOLD: &[u8] =
    include_bytes!("../../assets/fonts/NotoSansDevanagari-Bold.ttf");

/// A4 in points.
const WIDTH: f32 = 595.276;
const HEIGHT: f32 = 841.89;
const MARGIN: f32 = 45.0;
const ROW: f32 = 14.0;
const BODY: f32 = 8.5;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Script {
    Latin,
    Arabic,
    Devanagari,
}

fn script_of(c: char) -> Option<Script> {
    match c as u32 {
        0x0600..=0x06FF | 0x0750..=0x077F | 0x08A0..=0x08FF | 0xFB50..=0xFDFF | 0xFE70..=0xFEFF => {
            Some(Script::Arabic)
        }
        0x0900..=0x097F | 0xA8E0..=0xA8FF => Some(Script::Devanagari),
        _ if c.is_alphanumeric() => Some(Script::Latin),
        // Spaces and punctuation follow the run they are in.
        _ => None,
    }
}

/// One face: parsed once for krilla and once for measuring.
struct Face {
    shaper: rustybuzz::Face<'static>,
    font: Font,
}

impl Face {
    fn new(bytes: &'static [u8]) -> Face {
        Face {
            shaper: rustybuzz::Face::from_slice(bytes, 0).expect("the compiled-in fonts parse"),
            font: Font::new(bytes.into(), 0).expect("the compiled-in fonts load"),
        }
    }

    fn has(&self, c: char) -> bool {
        self.shaper.glyph_index(c).is_some()
    }

    /// The advance width of `text` at `size` points, shaped.
    fn width(&self, text: &str, size: f32) -> f32 {
        let face = &self.shaper;
        let mut buffer = rustybuzz::UnicodeBuffer::new();
        buffer.push_str(text);
        buffer.guess_segment_properties();
        let shaped = rustybuzz::shape(face, &[], buffer);
        let units: i32 = shaped.glyph_positions().iter().map(|p| p.x_advance).sum();
        units as f32 * size / face.units_per_em() as f32
    }
}

struct Fonts {
    latin: [Face; 2],
    arabic: [Face; 2],
    devanagari: [Face; 2],
}

impl Fonts {
    /// The compiled-in faces, parsed once per process.
    fn get() -> &'static Fonts {
        static FONTS: std::sync::OnceLock<Fonts> = std::sync::OnceLock::new();
        FONTS.get_or_init(Fonts::load)
    }

    fn load() -> Fonts {
        Fonts {
            latin: [Face::new(NOTO_SANS), Face::new(NOTO_SANS_BOLD)],
            arabic: [Face::new(NOTO_ARABIC), Face::new(NOTO_ARABIC_BOLD)],
            devanagari: [Face::new(NOTO_DEVANAGARI), Face::new(NOTO_DEVANAGARI_BOLD)],
        }
    }

    fn face(&self, script: Script, bold: bool) -> &Face {
        let pair = match script {
            Script::Latin => &self.latin,
            Script::Arabic => &self.arabic,
            Script::Devanagari => &self.devanagari,
        };
        &pair[bold as usize]
    }

    /// `text` as runs of one script each, every character one of its face has (else `?`).
    fn runs(&self, text: &str, bold: bool) -> Vec<(Script, String)> {
        let mut runs: Vec<(Script, String)> = Vec::new();
        for c in text.chars() {
            let script = script_of(c)
                .or_else(|| runs.last().map(|r| r.0))
                .unwrap_or(Script::Latin);
            let c = if c.is_control() { ' ' } else { c };
            // A mark the run's face lacks (Noto Sans Arabic has no `(`, `?`, `…`) is drawn
            // with Noto Sans; a character no face has becomes a `?` in Noto Sans (PDF/A
            // forbids a missing glyph).
            let (script, c) = if self.face(script, bold).has(c) {
                (script, c)
            } else if self.face(Script::Latin, bold).has(c) {
                (Script::Latin, c)
            } else {
                (Script::Latin, '?')
            };
            match runs.last_mut() {
                Some((s, run)) if *s == script => run.push(c),
                _ => runs.push((script, c.to_string())),
            }
        }
        runs
    }

    /// The shaped width of `text`. Invoices repeat their texts (amounts, "0.00", the line
    /// descriptions), so widths are kept per thread: shaping was most of a PDF's time.
    fn width(&self, text: &str, size: f32, bold: bool) -> f32 {
        thread_local! {
            static WIDTHS: std::cell::RefCell<std::collections::HashMap<(String, u32, bool), f32>> =
                Default::default();
        }
        let key = (text.to_string(), size.to_bits(), bold);
        if let Some(w) = WIDTHS.with(|m| m.borrow().get(&key).copied()) {
            return w;
        }
        let w = self
            .runs(text, bold)
            .iter()
            .map(|(s, run)| self.face(*s, bold).width(run, size))
            .sum();
        WIDTHS.with(|m| {
            let mut m = m.borrow_mut();
            if m.len() > 100_000 {
                m.clear();
            }
            m.insert(key, w);
        });
        w
    }

    /// `text` cut (with `…`) to fit `max` points.
    fn fit(&self, text: &str, size: f32, bold: bool, max: f32) -> String {
        if self.width(text, size, bold) <= max {
            return text.to_string();
        }
        let mut chars: Vec<char> = text.chars().collect();
        while !chars.is_empty() {
            chars.pop();
            let cut: String = chars.iter().collect::<String>() + "…";
            if self.width(&cut, size, bold) <= max {
                return cut;
            }
        }
        String::new()
    }

    /// `text` broken into lines of at most `max` points (at spaces).
    fn wrap(&self, text: &str, size: f32, max: f32) -> Vec<String> {
        let mut lines = Vec::new();
        let mut line = String::new();
        for word in text.split_whitespace() {
            let candidate = if line.is_empty() {
                word.to_string()
            } else {
                format!("{line} {word}")
            };
            if self.width(&candidate, size, false) > max && !line.is_empty() {
                lines.push(std::mem::replace(&mut line, word.to_string()));
            } else {
                line = candidate;
            }
        }
        if !line.is_empty() {
            lines.push(line);
        }
        lines
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Align {
    Left,
    Right,
}

/// What a page holds, laid out before it is drawn (the page count must be known first).
#[derive(Debug, Clone)]
enum Op {
    Text {
        x: f32,
        y: f32,
        size: f32,
        bold: bool,
        align: Align,
        grey: bool,
        text: String,
    },
    Band {
        y: f32,
        height: f32,
    },
    Rule {
        y: f32,
        width: f32,
    },
    Watermark,
}

struct Layout {
    pages: Vec<Vec<Op>>,
    y: f32,
    draft: bool,
}

/// Table columns: #, description, quantity, unit price, amount (right edges for numbers).
const COL_NO: f32 = MARGIN;
const COL_DESC: f32 = MARGIN + 24.0;
const COL_QTY: f32 = 390.0;
const COL_PRICE: f32 = 475.0;
const COL_AMOUNT: f32 = WIDTH - MARGIN;
const BOTTOM: f32 = HEIGHT - MARGIN - 20.0;

impl Layout {
    fn new(draft: bool) -> Self {
        let mut l = Layout {
            pages: Vec::new(),
            y: MARGIN,
            draft,
        };
        l.new_page();
        l
    }

    fn new_page(&mut self) {
        let mut page = Vec::new();
        if self.draft {
            page.push(Op::Watermark);
        }
        self.pages.push(page);
        self.y = MARGIN;
    }

    fn push(&mut self, op: Op) {
        self.pages.last_mut().expect("a page").push(op);
    }

    fn text(&mut self, x: f32, size: f32, bold: bool, align: Align, text: &str) {
        let y = self.y;
        self.push(Op::Text {
            x,
            y,
            size,
            bold,
            align,
            grey: false,
            text: text.to_string(),
        });
    }

    fn label(&mut self, x: f32, text: &str) {
        let y = self.y;
        self.push(Op::Text {
            x,
            y,
            size: 7.0,
            bold: false,
            align: Align::Left,
            grey: true,
            text: text.to_uppercase(),
        });
    }

    fn table_header(&mut self) {
        self.y += ROW;
        self.text(COL_NO, BODY, true, Align::Left, "#");
        self.text(COL_DESC, BODY, true, Align::Left, "Description");
        self.text(COL_QTY, BODY, true, Align::Right, "Quantity");
        self.text(COL_PRICE, BODY, true, Align::Right, "Unit price");
        self.text(COL_AMOUNT, BODY, true, Align::Right, "Amount");
        let y = self.y + 4.0;
        self.push(Op::Rule { y, width: 1.2 });
    }

    /// Room for `height` more points on this page, or a new page with the table header.
    fn room(&mut self, height: f32, header: bool) {
        if self.y + height > BOTTOM {
            self.new_page();
            if header {
                self.table_header();
            }
        }
    }
}

fn lay_out(page: &Page, fonts: &Fonts) -> Vec<Vec<Op>> {
    let mut l = Layout::new(page.is_draft);
    l.y += 20.0;
    l.text(MARGIN, 20.0, true, Align::Left, &page.title);
    l.text(COL_AMOUNT, 12.0, true, Align::Right, &page.number);
    l.y += 22.0;
    for (left, right) in [
        (
            ("Period", page.period.as_str()),
            ("Currency", page.currency.as_str()),
        ),
        (
            ("Issue date", page.issue_date.as_str()),
            ("Metering source billed", page.source.as_str()),
        ),
    ] {
        l.label(MARGIN, left.0);
        l.label(300.0, right.0);
        l.y += 10.0;
        l.text(MARGIN, 9.5, false, Align::Left, left.1);
        l.text(300.0, 9.5, false, Align::Left, right.1);
        l.y += 14.0;
    }
    l.label(MARGIN, "Due date");
    l.y += 10.0;
    l.text(
        MARGIN,
        9.5,
        false,
        Align::Left,
        &format!("{} ({})", page.due_date, page.terms),
    );
    l.y += 22.0;
    // Parties.
    let top = l.y;
    let mut from = vec![
        (page.issuer_name.clone(), true),
        (page.issuer_address.clone(), false),
    ];
    if !page.issuer_tax_id.is_empty() {
        from.push((format!("Tax id {}", page.issuer_tax_id), false));
    }
    let mut to = vec![
        (page.customer_name.clone(), true),
        (page.customer_address.clone(), false),
    ];
    if !page.customer_vat_id.is_empty() {
        to.push((format!("VAT id {}", page.customer_vat_id), false));
    }
    if !page.customer_country.is_empty() {
        to.push((page.customer_country.clone(), false));
    }
    to.push((format!("Account {}", page.business_id), false));
    if !page.account_registered {
        to.push(("Not in the account registry: default terms".into(), false));
    }
    let mut bottom = top;
    for (x, title, rows) in [(MARGIN, "From", from), (300.0, "Bill to", to)] {
        l.y = top;
        l.label(x, title);
        l.y += 12.0;
        for (text, bold) in rows.iter().filter(|(t, _)| !t.is_empty()) {
            let fitted = fonts.fit(text, 9.5, *bold, 245.0);
            l.text(x, 9.5, *bold, Align::Left, &fitted);
            l.y += 12.0;
        }
        bottom = bottom.max(l.y);
    }
    l.y = bottom + 6.0;
    // Lines.
    l.table_header();
    l.y += 4.0;
    for group in &page.groups {
        l.room(2.0 * ROW, true);
        l.y += ROW;
        let band = l.y - ROW + 4.0;
        l.push(Op::Band {
            y: band,
            height: ROW,
        });
        l.text(COL_NO, BODY, true, Align::Left, &group.heading);
        for row in &group.rows {
            l.room(ROW, true);
            l.y += ROW;
            l.text(COL_NO, BODY, false, Align::Left, &row.line_no);
            let desc = fonts.fit(&row.description, BODY, false, COL_QTY - 60.0 - COL_DESC);
            l.text(COL_DESC, BODY, false, Align::Left, &desc);
            l.text(COL_QTY, BODY, false, Align::Right, &row.quantity);
            l.text(COL_PRICE, BODY, false, Align::Right, &row.unit_price);
            l.text(COL_AMOUNT, BODY, false, Align::Right, &row.amount);
        }
    }
    // Totals.
    l.room(ROW * (3 + page.vat.len()) as f32, false);
    l.y += 6.0;
    let y = l.y + 4.0;
    l.push(Op::Rule { y, width: 0.6 });
    l.y += ROW;
    l.text(COL_PRICE, 9.5, false, Align::Right, "Subtotal");
    l.text(COL_AMOUNT, 9.5, false, Align::Right, &page.subtotal);
    for v in &page.vat {
        l.y += ROW;
        l.text(
            COL_PRICE,
            9.5,
            false,
            Align::Right,
            &format!("{} on {}", v.label, v.taxable),
        );
        l.text(COL_AMOUNT, 9.5, false, Align::Right, &v.tax);
    }
    l.y += ROW + 2.0;
    l.text(
        COL_PRICE,
        11.0,
        true,
        Align::Right,
        &format!("Total {}", page.currency),
    );
    l.text(COL_AMOUNT, 11.0, true, Align::Right, &page.total);
    // What was billed and how it was rounded.
    l.y += 10.0;
    for paragraph in [&page.source_line, &page.rounding_rule] {
        for line in fonts.wrap(paragraph, 7.5, WIDTH - 2.0 * MARGIN) {
            l.room(11.0, false);
            l.y += 11.0;
            let y = l.y;
            l.push(Op::Text {
                x: MARGIN,
                y,
                size: 7.5,
                bold: false,
                align: Align::Left,
                grey: true,
                text: line,
            });
        }
    }
    l.pages
}

fn draw_text(
    surface: &mut krilla::surface::Surface,
    fonts: &Fonts,
    (x, y, size, bold, align): (f32, f32, f32, bool, Align),
    grey: bool,
    text: &str,
) {
    let shade = if grey { 110 } else { 25 };
    surface.set_fill(Some(Fill {
        paint: rgb::Color::new(shade, shade, shade).into(),
        ..Default::default()
    }));
    let mut at = match align {
        Align::Left => x,
        Align::Right => x - fonts.width(text, size, bold),
    };
    for (script, run, rtl) in visual_runs(fonts, text, bold) {
        let face = fonts.face(script, bold);
        let direction = if rtl {
            TextDirection::RightToLeft
        } else {
            TextDirection::LeftToRight
        };
        surface.draw_text(
            Point::from_xy(at, y),
            face.font.clone(),
            size,
            &run,
            false,
            direction,
        );
        at += fonts.width(&run, size, bold);
    }
}

/// `text` as runs to draw from left to right: the Unicode bidirectional algorithm orders
/// its levels (an Arabic name with a number, an Arabic address, reads right to left with
/// its digits left to right), each level's text is split by script, and a right-to-left
/// level's pieces are drawn in reverse (each shaped right to left).
fn visual_runs(fonts: &Fonts, text: &str, bold: bool) -> Vec<(Script, String, bool)> {
    let bidi = unicode_bidi::BidiInfo::new(text, None);
    if !bidi.has_rtl() {
        return fonts
            .runs(text, bold)
            .into_iter()
            .map(|(s, r)| (s, r, false))
            .collect();
    }
    let mut out = Vec::new();
    for para in &bidi.paragraphs {
        let (levels, runs) = bidi.visual_runs(para, para.range.clone());
        for run in runs {
            let rtl = levels[run.start].is_rtl();
            let mut pieces: Vec<(Script, String, bool)> = fonts
                .runs(&text[run], bold)
                .into_iter()
                .map(|(s, r)| (s, r, rtl))
                .collect();
            if rtl {
                pieces.reverse();
            }
            out.extend(pieces);
        }
    }
    out
}

fn pdf_err(e: impl std::fmt::Debug) -> Error {
    Error::Failed {
        what: "writing an invoice PDF".into(),
        message: format!("{e:?}"),
    }
}

/// An XML file to embed (Factur-X: `factur-x.xml`).
pub struct Attachment {
    pub name: String,
    pub description: String,
    pub data: Vec<u8>,
}

/// The invoice's PDF/A-3b, with `attachment` embedded (associated as its alternative
/// representation) when given.
pub fn render(invoice: &Invoice, attachment: Option<Attachment>) -> Result<Vec<u8>> {
    let page = Page::of(invoice);
    let fonts = Fonts::get();
    let pages = lay_out(&page, fonts);
    let configuration = ConfigurationBuilder::new()
        .with_archival_validator(Archival::A3_B)
        .finish()
        .map_err(pdf_err)?;
    let mut doc = Document::new_with(SerializeSettings {
        configuration,
        enable_tagging: false,
        ..Default::default()
    });
    let d = invoice.issue_date;
    use chrono::Datelike;
    let date = DateTime::new(d.year() as u16)
        .month(d.month() as u8)
        .day(d.day() as u8)
        .hour(0)
        .minute(0)
        .second(0)
        .utc_offset_hour(0);
    let id = match &invoice.invoice_number {
        Some(n) => n.clone(),
        None => format!("draft {} {}", invoice.customer.business_id, invoice.month),
    };
    doc.set_metadata(
        Metadata::new()
            .title(format!(
                "{} {} — {}",
                page.title, page.number, page.customer_name
            ))
            .language("en".into())
            .creator(format!("msgmeter {}", invoice.msgmeter_version))
            .producer(format!("msgmeter {}", invoice.msgmeter_version))
            .creation_date(date)
            .document_id(id),
    );
    let total = pages.len();
    for (i, ops) in pages.into_iter().enumerate() {
        let mut p = doc.start_page_with(PageSettings::from_wh(WIDTH, HEIGHT).expect("A4"));
        let mut s = p.surface();
        for op in ops {
            match op {
                Op::Watermark => {
                    s.push_transform(&Transform::from_rotate_at(-35.0, WIDTH / 2.0, HEIGHT / 2.0));
                    s.set_fill(Some(Fill {
                        paint: rgb::Color::new(245, 215, 215).into(),
                        ..Default::default()
                    }));
                    let w = fonts.width("DRAFT", 120.0, true);
                    s.draw_text(
                        Point::from_xy(WIDTH / 2.0 - w / 2.0, HEIGHT / 2.0 + 40.0),
                        fonts.latin[1].font.clone(),
                        120.0,
                        "DRAFT",
                        false,
                        TextDirection::LeftToRight,
                    );
                    s.pop();
                }
                Op::Band { y, height } => {
                    s.set_fill(Some(Fill {
                        paint: rgb::Color::new(240, 240, 240).into(),
                        ..Default::default()
                    }));
                    let mut pb = PathBuilder::new();
                    if let Some(r) =
                        Rect::from_xywh(MARGIN - 2.0, y, WIDTH - 2.0 * MARGIN + 4.0, height)
                    {
                        pb.push_rect(r);
                    }
                    if let Some(path) = pb.finish() {
                        s.draw_path(&path);
                    }
                }
                Op::Rule { y, width } => {
                    s.set_fill(None);
                    s.set_stroke(Some(Stroke {
                        paint: rgb::Color::new(60, 60, 60).into(),
                        width,
                        ..Default::default()
                    }));
                    let mut pb = PathBuilder::new();
                    pb.move_to(MARGIN, y);
                    pb.line_to(WIDTH - MARGIN, y);
                    if let Some(path) = pb.finish() {
                        s.draw_path(&path);
                    }
                    s.set_stroke(None);
                }
                Op::Text {
                    x,
                    y,
                    size,
                    bold,
                    align,
                    grey,
                    text,
                } => draw_text(&mut s, fonts, (x, y, size, bold, align), grey, &text),
            }
        }
        let foot = HEIGHT - MARGIN + 10.0;
        draw_text(
            &mut s,
            fonts,
            (MARGIN, foot, 7.5, false, Align::Left),
            true,
            &format!("{} {}", page.title, page.number),
        );
        draw_text(
            &mut s,
            fonts,
            (WIDTH - MARGIN, foot, 7.5, false, Align::Right),
            true,
            &format!("page {} / {total}", i + 1),
        );
        s.finish();
        p.finish();
    }
    if let Some(a) = attachment {
        doc.embed_file(EmbeddedFile {
            path: a.name,
            mime_type: Some(MimeType::new("text/xml").ok_or_else(|| pdf_err("mime type"))?),
            description: Some(a.description),
            association_kind: AssociationKind::Alternative,
            data: a.data.into(),
            modification_date: Some(date),
            compress: Some(true),
            location: None,
        })
        .ok_or_else(|| pdf_err("an attachment of that name is embedded already"))?;
    }
    doc.finish().map_err(pdf_err)
}
