//! API usage as Salesforce reports it: the REST `Sforce-Limit-Info` header
//! and the SOAP `LimitInfoHeader` (read by a bounded scan of the envelope
//! header only, so large bodies cost nothing).

use super::scan;

/// `(used, limit)` of the org's daily API requests, from
/// `Sforce-Limit-Info: api-usage=N/M` or a SOAP `LimitInfoHeader` whose
/// `limitInfo` has `<type>API REQUESTS</type>`.
pub fn api_usage(headers: &http::HeaderMap, body: &[u8]) -> Option<(u64, u64)> {
    // A name made once, not parsed from text at each answer.
    const SFORCE_LIMIT_INFO: http::HeaderName = http::HeaderName::from_static("sforce-limit-info");
    headers
        .get_all(SFORCE_LIMIT_INFO)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(from_header)
        .or_else(|| from_soap_header(body))
}

/// `api-usage=18/5000`, possibly with `; per-app-api-usage=17/250(appName=x)`.
fn from_header(value: &str) -> Option<(u64, u64)> {
    value.split([';', ',']).find_map(|part| {
        let (used, limit) = part.trim().strip_prefix("api-usage=")?.split_once('/')?;
        let limit: String = limit.chars().take_while(char::is_ascii_digit).collect();
        Some((used.trim().parse().ok()?, limit.parse().ok()?))
    })
}

/// How far past the start of the first `LimitInfoHeader` name the text is
/// taken first: Salesforce's header (one `limitInfo`) ends about 110
/// bytes on.
const NEAR: usize = 512;

/// The SOAP header's `LimitInfoHeader/limitInfo` of type `API REQUESTS`;
/// the scan stops at the Body.
fn from_soap_header(body: &[u8]) -> Option<(u64, u64)> {
    let window = &body[..body.len().min(scan::WINDOW)];
    // Most answers carry no limit header: a byte search says so without
    // decoding the text.
    static FINDER: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"LimitInfoHeader"));
    let at = FINDER.find(window)?;
    // The text up to a little past the name is checked first, not the rest
    // of the answer: a scan that ends there (found, or at the Body) reads
    // what the whole window's would, for the window's text starts with it.
    let near = &window[..window.len().min(at + NEAR)];
    if let Ok(text) = std::str::from_utf8(near)
        && let Some(read) = limit_info(text)
    {
        return read;
    }
    limit_info(&scan::window(body, scan::WINDOW)).flatten()
}

/// [`from_soap_header`] of `text`; `None` when the scan ran out of text
/// before the limit or the Body.
fn limit_info(text: &str) -> Option<Option<(u64, u64)>> {
    let (mut in_header, mut in_info) = (false, false);
    let (mut current, mut limit, mut kind) = (None, None, None);
    for tag in scan::tags(text) {
        let local = tag.local();
        match (local, tag.end) {
            ("Body", false) => return Some(None),
            ("LimitInfoHeader", end) => in_header = !end && !tag.empty,
            ("limitInfo", false) if in_header && !tag.empty => {
                in_info = true;
                (current, limit, kind) = (None, None, None);
            }
            ("limitInfo", true) if in_info => {
                in_info = false;
                if kind == Some("API REQUESTS")
                    && let (Some(c), Some(l)) = (current, limit)
                {
                    return Some(Some((c, l)));
                }
            }
            ("current" | "limit" | "type", false) if in_info && !tag.empty => {
                let content = text[tag.after..].split('<').next().unwrap_or("").trim();
                match local {
                    "current" => current = content.parse().ok(),
                    "limit" => limit = content.parse().ok(),
                    _ => kind = Some(content),
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use twoway_testkit::samples::GET_USER_INFO_RESPONSE;

    fn header(value: &str) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        h.insert("sforce-limit-info", value.parse().unwrap());
        h
    }

    #[test]
    fn rest_header_forms() {
        let none = b"";
        assert_eq!(
            api_usage(&header("api-usage=18/5000"), none),
            Some((18, 5000))
        );
        assert_eq!(
            api_usage(
                &header(
                    "api-usage=18/5000; per-app-api-usage=17/250(appName=sample-connected-app)"
                ),
                none
            ),
            Some((18, 5000))
        );
        assert_eq!(
            api_usage(
                &header(
                    "per-app-api-usage=17/250(appName=sample-connected-app); api-usage=25/5000"
                ),
                none
            ),
            Some((25, 5000))
        );
        assert_eq!(
            api_usage(&header("api-usage=10018/100000; api-bursts=1/750"), none),
            Some((10018, 100000))
        );
        assert_eq!(api_usage(&header("per-app-api-usage=17/250"), none), None);
        assert_eq!(api_usage(&header("api-usage=x/y"), none), None);
        assert_eq!(api_usage(&http::HeaderMap::new(), none), None);
    }

    /// What the scan of the whole window reads.
    fn by_whole_window(body: &[u8]) -> Option<(u64, u64)> {
        let window = &body[..body.len().min(scan::WINDOW)];
        memchr::memmem::find(window, b"LimitInfoHeader")?;
        limit_info(&scan::window(body, scan::WINDOW)).flatten()
    }

    #[test]
    fn the_text_near_the_header_reads_as_the_whole_window() {
        let answer = GET_USER_INFO_RESPONSE;
        let at = answer.find("LimitInfoHeader").unwrap();
        let mut bodies = Vec::new();
        // The near text's end at every place of the header and past it:
        // spaces, a two-byte character cut there, a byte not UTF-8 there.
        for (i, _) in answer.char_indices().filter(|&(i, _)| i > at - 40) {
            for pad in [" ", "é", "\u{FFFD}"] {
                for n in [1, NEAR / 4, NEAR - 40, NEAR] {
                    let padded = format!("{}{}{}", &answer[..i], pad.repeat(n), &answer[i..]);
                    bodies.push(padded.into_bytes());
                }
            }
            let mut invalid = answer.as_bytes().to_vec();
            invalid.insert(i, 0xFF);
            bodies.push(invalid);
        }
        // A header across the window's end; one that ends just inside it.
        let header = &answer[answer.find("<soapenv:Header>").unwrap()..];
        for end in [scan::WINDOW - 60, scan::WINDOW - header.len(), scan::WINDOW] {
            let lead = " ".repeat(end.saturating_sub(at));
            bodies.push(format!("{}{lead}{}", &answer[..at - 1], &answer[at - 1..]).into_bytes());
        }
        let mut found = 0;
        for body in &bodies {
            let read = from_soap_header(body);
            assert_eq!(
                read,
                by_whole_window(body),
                "{}",
                String::from_utf8_lossy(body)
            );
            found += usize::from(read.is_some());
        }
        assert!(found > bodies.len() / 2, "{found} of {}", bodies.len());
    }

    #[test]
    fn soap_limit_info_header() {
        let none = http::HeaderMap::new();
        assert_eq!(
            api_usage(&none, GET_USER_INFO_RESPONSE.as_bytes()),
            Some((6, 15000))
        );
        let capture = r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns="urn:enterprise.soap.sforce.com"><soapenv:Header><LimitInfoHeader><limitInfo><current>1</current><limit>5</limit><type>OTHER</type></limitInfo><limitInfo><current>6</current><limit>15000</limit><type>API REQUESTS</type></limitInfo></LimitInfoHeader></soapenv:Header><soapenv:Body/></soapenv:Envelope>"#;
        assert_eq!(api_usage(&none, capture.as_bytes()), Some((6, 15000)));
        let in_body = r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><LimitInfoHeader><limitInfo><current>1</current><limit>2</limit><type>API REQUESTS</type></limitInfo></LimitInfoHeader></soapenv:Body></soapenv:Envelope>"#;
        assert_eq!(api_usage(&none, in_body.as_bytes()), None);
        assert_eq!(api_usage(&none, b"<a><current>"), None);
        assert_eq!(
            api_usage(
                &header("api-usage=7/15000"),
                GET_USER_INFO_RESPONSE.as_bytes()
            ),
            Some((7, 15000))
        );
    }
}
