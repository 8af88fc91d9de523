//! The HTTP(S) client that web seed work shares: `check-web-seeds` and
//! `create URL`. Builds the hyper/rustls client, sends GETs with an
//! optional Range (following a bounded number of redirects), and probes a
//! URL with `Range: bytes=0-0` for its status, length and Range support.
//!
//! No timeouts here: callers wrap each call in their own, since a probe
//! and a 2 GiB stream need different ones.

use http::header::{CONTENT_LENGTH, CONTENT_RANGE, LOCATION, RANGE, USER_AGENT};
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper::body::Body as _;
use hyper::body::{Bytes, Incoming};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use crate::error::chain;

pub type HttpClient = Client<HttpsConnector<HttpConnector>, Empty<Bytes>>;

/// An HTTP/1.1 client for http and https URLs (webpki roots, ring).
/// Must be called inside a tokio runtime's context when first used.
pub fn build() -> Result<HttpClient, String> {
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())
        .map_err(|err| err.to_string())?
        .https_or_http()
        .enable_http1()
        .build();
    Ok(Client::builder(TokioExecutor::new()).build(connector))
}

/// Why a GET got no usable response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GetError {
    /// No connection, TLS failure, bad URL.
    Unreachable(String),
    /// A redirect without a usable Location.
    BadRedirect {
        status: u16,
        detail: String,
    },
    TooManyRedirects {
        status: u16,
        detail: String,
    },
}

impl GetError {
    pub fn detail(&self) -> &str {
        match self {
            Self::Unreachable(detail)
            | Self::BadRedirect { detail, .. }
            | Self::TooManyRedirects { detail, .. } => detail,
        }
    }
}

/// `err` and its causes, opening each io::Error by hand: its `source()`
/// skips the error it wraps.
fn causes<'a>(
    err: &'a (dyn std::error::Error + 'static),
) -> Vec<&'a (dyn std::error::Error + 'static)> {
    let mut found = Vec::new();
    let mut current = Some(err);
    while let Some(err) = current {
        found.push(err);
        current = match err.downcast_ref::<std::io::Error>() {
            Some(io) => io.get_ref().map(|inner| inner as _),
            None => err.source(),
        };
    }
    found
}

/// A rustls error among `err`'s causes.
fn tls_error<'a>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    causes(err)
        .into_iter()
        .find_map(|cause| cause.downcast_ref::<rustls::Error>())
}

/// An end of stream inside the connector (tokio-rustls: "tls handshake eof").
fn handshake_eof(err: &(dyn std::error::Error + 'static)) -> bool {
    causes(err).into_iter().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::UnexpectedEof)
    })
}

/// A connection error said plainly, with a hint when an https URL reached a
/// server that speaks plain HTTP (its reply is not a TLS record).
fn connect_error(url: &str, err: &(dyn std::error::Error + 'static)) -> String {
    match tls_error(err) {
        Some(rustls::Error::InvalidMessage(_)) => format!(
            "{url}: TLS handshake failed ({}): the server does not speak TLS; if it serves plain \
             HTTP, use http:// instead",
            chain(err)
        ),
        Some(tls) => format!("{url}: TLS handshake failed: {tls}"),
        // A plain-HTTP server that waits for a request line hangs up on
        // the ClientHello without a word.
        None if url.starts_with("https:") && handshake_eof(err) => format!(
            "{url}: the server hung up during the TLS handshake ({}): it may not speak TLS; if \
             it serves plain HTTP, use http:// instead",
            chain(err)
        ),
        None => format!("{url}: {}", chain(err)),
    }
}

/// GET with `Range: bytes=FIRST-LAST` when `range` is given, following up
/// to `max_redirects` redirects. Returns the response, the URL that
/// answered and the redirects taken.
pub async fn get(
    client: &HttpClient,
    url: &str,
    range: Option<(u64, u64)>,
    max_redirects: u32,
) -> Result<(hyper::Response<Incoming>, String, u32), GetError> {
    let mut current = url.to_owned();
    let mut redirects = 0;
    loop {
        let mut request = Request::get(current.as_str()).header(
            USER_AGENT,
            concat!("mktorrent-rs/", env!("CARGO_PKG_VERSION")),
        );
        if let Some((first, last)) = range {
            request = request.header(RANGE, format!("bytes={first}-{last}"));
        }
        let request = request
            .body(Empty::new())
            .map_err(|err| GetError::Unreachable(format!("{current}: {err}")))?;
        let response = client
            .request(request)
            .await
            .map_err(|err| GetError::Unreachable(connect_error(&current, &err)))?;
        let status = response.status();
        if !matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308) {
            return Ok((response, current, redirects));
        }
        let bad = |detail: String| GetError::BadRedirect {
            status: status.as_u16(),
            detail,
        };
        let location = response
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| bad(format!("HTTP {status} from {current} without a Location")))?;
        let next = url::Url::parse(&current)
            .and_then(|base| base.join(location))
            .map_err(|err| bad(format!("{current} redirects to {location:?}: {err}")))?;
        if !matches!(next.scheme(), "http" | "https") {
            return Err(bad(format!(
                "{current} redirects to {next}, which is not http or https"
            )));
        }
        redirects += 1;
        if redirects > max_redirects {
            return Err(GetError::TooManyRedirects {
                status: status.as_u16(),
                detail: format!(
                    "more than {max_redirects} redirects from {url} (the last to {next})"
                ),
            });
        }
        current = next.to_string();
    }
}

/// What one `Range: bytes=0-0` request tells about a URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    pub status: u16,
    /// The URL that answered, after redirects.
    pub final_url: String,
    pub redirects: u32,
    /// The file's length, when the server said (Content-Range total on a
    /// 206, Content-Length on a 200).
    pub length: Option<u64>,
    /// The server answered the Range request with 206.
    pub ranged: bool,
}

/// Why a probe failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeError {
    Get(GetError),
    /// A status other than 200, 206 or 416.
    Status {
        status: u16,
        url: String,
    },
}

/// `Range: bytes=0-0`: one byte tells status, length and Range support.
pub async fn probe(
    client: &HttpClient,
    url: &str,
    max_redirects: u32,
) -> Result<Probe, ProbeError> {
    let (response, final_url, redirects) = get(client, url, Some((0, 0)), max_redirects)
        .await
        .map_err(ProbeError::Get)?;
    let status = response.status();
    let headers = response.headers();
    let (length, ranged) = match status {
        StatusCode::PARTIAL_CONTENT => {
            let total = headers
                .get(CONTENT_RANGE)
                .and_then(|v| v.to_str().ok())
                .and_then(parse_content_range)
                .and_then(|(_, _, total)| total);
            (total, true)
        }
        StatusCode::OK => (content_length(headers), false),
        // 416 on a one-byte range: the server's file is empty.
        StatusCode::RANGE_NOT_SATISFIABLE => (Some(0), true),
        other => {
            return Err(ProbeError::Status {
                status: other.as_u16(),
                url: final_url,
            })
        }
    };
    // A 206's one byte is read so the connection can be reused; a 200's
    // body is never downloaded: the response is dropped, which closes it.
    if ranged {
        let mut body = response.into_body();
        let mut read = 0;
        while read <= 64 && !body.is_end_stream() {
            match body.frame().await {
                Some(Ok(frame)) => {
                    read += frame.data_ref().map_or(0, Bytes::len);
                }
                _ => break,
            }
        }
    }
    Ok(Probe {
        status: status.as_u16(),
        final_url,
        redirects,
        length,
        ranged,
    })
}

/// The Content-Length header, when present and a number.
pub fn content_length(headers: &http::HeaderMap) -> Option<u64> {
    headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

/// `bytes FIRST-LAST/TOTAL` (TOTAL may be `*`).
pub fn parse_content_range(value: &str) -> Option<(u64, u64, Option<u64>)> {
    let rest = value.trim().strip_prefix("bytes ")?;
    let (span, total) = rest.split_once('/')?;
    let (first, last) = span.split_once('-')?;
    let total = match total.trim() {
        "*" => None,
        n => Some(n.parse().ok()?),
    };
    Some((first.trim().parse().ok()?, last.trim().parse().ok()?, total))
}

#[cfg(test)]
mod tests {
    use super::parse_content_range;

    #[test]
    fn content_range_is_parsed_strictly() {
        assert_eq!(parse_content_range("bytes 0-0/10"), Some((0, 0, Some(10))));
        assert_eq!(parse_content_range("bytes 5-9/*"), Some((5, 9, None)));
        assert_eq!(parse_content_range("bytes */10"), None);
        assert_eq!(parse_content_range("items 0-1/2"), None);
    }
}
