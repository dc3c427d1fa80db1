//! The Factur-X XMP metadata (Factur-X 1.0, EN 16931 profile) added to a PDF/A-3 that
//! embeds `factur-x.xml`.
//!
//! krilla (0.8) writes the document's XMP itself and has no way to add properties to it, so
//! the PDF it made is extended by an **incremental update**, as PDF allows: the metadata
//! object is written again with the `fx:` properties (DocumentType, DocumentFileName,
//! Version, ConformanceLevel) and their PDF/A extension schema, followed by a one-entry
//! cross-reference section and a trailer pointing back at the original (`/Prev`). krilla
//! writes one uncompressed XMP packet and a classic cross-reference table, which is what
//! this relies on; anything else is an error, never a silently wrong file.

use crate::error::{Error, Result};

const FX_NS: &str = "urn:factur-x:pdfa:CrossIndustryDocument:invoice:1p0#";

fn find(h: &[u8], n: &[u8]) -> Option<usize> {
    h.windows(n.len()).position(|w| w == n)
}

fn rfind(h: &[u8], n: &[u8]) -> Option<usize> {
    h.windows(n.len()).rposition(|w| w == n)
}

fn bad(what: &str) -> Error {
    Error::Failed {
        what: "adding the Factur-X metadata to a PDF".into(),
        message: what.to_string(),
    }
}

/// The value after `key` in a trailer dictionary (`/Root 33 0 R` → `33 0 R`).
fn trailer_entry<'a>(trailer: &'a str, key: &str) -> Option<&'a str> {
    let i = trailer.find(key)? + key.len();
    let rest = &trailer[i..];
    let end = rest.find(['/', '>']).unwrap_or(rest.len());
    Some(rest[..end].trim())
}

fn property(name: &str, description: &str) -> String {
    format!(
        "<rdf:li rdf:parseType=\"Resource\"><pdfaProperty:name>{name}</pdfaProperty:name>\
         <pdfaProperty:valueType>Text</pdfaProperty:valueType>\
         <pdfaProperty:category>external</pdfaProperty:category>\
         <pdfaProperty:description>{description}</pdfaProperty:description></rdf:li>"
    )
}

/// `pdf` with the Factur-X properties in its XMP: `conformance` is the profile
/// (`EN 16931`), `file_name` the embedded XML's (`factur-x.xml`).
pub fn add_xmp(pdf: &[u8], conformance: &str, file_name: &str) -> Result<Vec<u8>> {
    let start = find(pdf, b"<?xpacket begin").ok_or_else(|| bad("no XMP packet"))?;
    let end_mark = b"<?xpacket end=\"r\"?>";
    let end = find(&pdf[start..], end_mark).ok_or_else(|| bad("no end of the XMP packet"))?
        + start
        + end_mark.len();
    let mut xmp =
        String::from_utf8(pdf[start..end].to_vec()).map_err(|_| bad("XMP is not UTF-8"))?;
    // The fx schema, inside the packet's existing list of PDF/A extension schemas.
    let schema = format!(
        "<rdf:li rdf:parseType=\"Resource\">\
         <pdfaSchema:schema>Factur-X PDFA Extension Schema</pdfaSchema:schema>\
         <pdfaSchema:namespaceURI>{FX_NS}</pdfaSchema:namespaceURI>\
         <pdfaSchema:prefix>fx</pdfaSchema:prefix>\
         <pdfaSchema:property><rdf:Seq>{}{}{}{}</rdf:Seq></pdfaSchema:property></rdf:li>",
        property("DocumentFileName", "The name of the embedded XML document"),
        property(
            "DocumentType",
            "The type of the hybrid document in capital letters, e.g. INVOICE or ORDER"
        ),
        property(
            "Version",
            "The actual version of the standard applying to the embedded XML document"
        ),
        property(
            "ConformanceLevel",
            "The conformance level of the embedded XML document"
        ),
    );
    let bag = "<pdfaExtension:schemas><rdf:Bag>";
    let at = xmp
        .find(bag)
        .ok_or_else(|| bad("the XMP has no PDF/A extension schemas"))?
        + bag.len();
    xmp.insert_str(at, &schema);
    let description = format!(
        "<rdf:Description rdf:about=\"\" xmlns:fx=\"{FX_NS}\">\
         <fx:DocumentType>INVOICE</fx:DocumentType>\
         <fx:DocumentFileName>{file_name}</fx:DocumentFileName>\
         <fx:Version>1.0</fx:Version>\
         <fx:ConformanceLevel>{conformance}</fx:ConformanceLevel></rdf:Description>"
    );
    let at = xmp
        .find("</rdf:RDF>")
        .ok_or_else(|| bad("the XMP has no </rdf:RDF>"))?;
    xmp.insert_str(at, &description);

    // The last trailer, and the object that holds the metadata.
    let t = rfind(pdf, b"trailer").ok_or_else(|| bad("no trailer (a cross-reference stream?)"))?;
    let sx = rfind(pdf, b"startxref").ok_or_else(|| bad("no startxref"))?;
    let trailer = std::str::from_utf8(&pdf[t..sx]).map_err(|_| bad("unreadable trailer"))?;
    let prev: usize = std::str::from_utf8(&pdf[sx + 9..])
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .ok_or_else(|| bad("unreadable startxref"))?;
    let size: u32 = trailer_entry(trailer, "/Size")
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("no /Size"))?;
    let root = trailer_entry(trailer, "/Root").ok_or_else(|| bad("no /Root"))?;
    let info = trailer_entry(trailer, "/Info");
    let id = trailer
        .find("/ID")
        .and_then(|i| {
            let s = &trailer[i..];
            s.find(']').map(|j| &s[..=j])
        })
        .ok_or_else(|| bad("no /ID"))?;
    // The document's metadata is the one the catalog (the trailer's /Root) names.
    let catalog = root
        .split_whitespace()
        .next()
        .ok_or_else(|| bad("unreadable /Root"))?;
    let catalog_at = find(pdf, format!("\n{catalog} 0 obj").as_bytes())
        .ok_or_else(|| bad("the catalog object is not in the file"))?;
    let catalog_end = find(&pdf[catalog_at..], b"endobj")
        .ok_or_else(|| bad("the catalog object has no end"))?
        + catalog_at;
    let meta = find(&pdf[catalog_at..catalog_end], b"/Metadata ")
        .ok_or_else(|| bad("the catalog names no /Metadata"))?
        + catalog_at
        + 10;
    let meta_obj: u32 = std::str::from_utf8(&pdf[meta..(meta + 12).min(pdf.len())])
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .ok_or_else(|| bad("unreadable /Metadata reference"))?;

    let mut out = pdf.to_vec();
    if !out.ends_with(b"\n") {
        out.push(b'\n');
    }
    let offset = out.len();
    out.extend_from_slice(
        format!(
            "{meta_obj} 0 obj\n<</Type/Metadata/Subtype/XML/Length {}>>\nstream\n",
            xmp.len()
        )
        .as_bytes(),
    );
    out.extend_from_slice(xmp.as_bytes());
    out.extend_from_slice(b"\nendstream\nendobj\n");
    let xref = out.len();
    out.extend_from_slice(format!("xref\n{meta_obj} 1\n{offset:010} 00000 n\r\n").as_bytes());
    let info = info.map(|i| format!("/Info {i}")).unwrap_or_default();
    out.extend_from_slice(
        format!(
            "trailer\n<</Size {size}/Root {root}{info}{id}/Prev {prev}>>\nstartxref\n{xref}\n%%EOF\n"
        )
        .as_bytes(),
    );
    Ok(out)
}
