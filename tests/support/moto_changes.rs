//! Where moto takes a change batch differently from Route53, the double makes it Route53's.
//!
//! moto decides whether a CREATE finds its record by looking in the zone's change journal: a
//! record created, deleted and created again exactly as before is refused as existing whenever
//! any record sorts after it (what every replacement does), while a CREATE of an existing record
//! with other values is stored beside it. Route53 refuses a CREATE exactly when the record
//! (name, type, set identifier) exists. So the double asks moto for the record first: an
//! existing one gets Route53's refusal, and a missing one reaches moto as an UPSERT, which moto
//! stores without the journal.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;

/// One record a change batch names.
struct Named {
    name: String,
    record_type: String,
    set_identifier: Option<String>,
}

/// The text between `<tag>` and `</tag>` in `xml`, first occurrence.
pub fn element<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let start = xml.find(&format!("<{tag}>"))? + tag.len() + 2;
    let end = xml[start..].find(&format!("</{tag}>"))? + start;
    Some(&xml[start..end])
}

/// Every `<tag>…</tag>` of `xml`, in order.
pub fn elements<'a>(xml: &'a str, tag: &str) -> Vec<&'a str> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    xml.split(&open).skip(1).filter_map(|part| part.split(&close).next()).collect()
}

fn named(record: &str) -> Option<Named> {
    Some(Named {
        name: element(record, "Name")?.trim_end_matches('.').to_ascii_lowercase(),
        record_type: element(record, "Type")?.to_string(),
        set_identifier: element(record, "SetIdentifier").map(str::to_string),
    })
}

/// The body to send moto for the `ChangeResourceRecordSets` request `parts`, or Route53's refusal
/// of a CREATE whose record exists.
pub async fn as_route53(
    body: Bytes,
    parts: &hyper::http::request::Parts,
    client: &Client<HttpConnector, Full<Bytes>>,
    upstream: &str,
) -> Result<Bytes, Response<Full<Bytes>>> {
    let text = String::from_utf8_lossy(&body).to_string();
    let creates: Vec<Named> = elements(&text, "Change")
        .into_iter()
        .filter(|change| element(change, "Action") == Some("CREATE"))
        .filter_map(|change| element(change, "ResourceRecordSet").and_then(named))
        .collect();
    if creates.is_empty() {
        return Ok(body);
    }
    let existing = records(parts, client, upstream).await;
    if let Some(taken) = creates.iter().find(|c| {
        existing
            .iter()
            .any(|e| e.name == c.name && e.record_type == c.record_type && e.set_identifier == c.set_identifier)
    }) {
        return Err(already_exists(taken));
    }
    Ok(Bytes::from(text.replace("<Action>CREATE</Action>", "<Action>UPSERT</Action>")))
}

/// The records of the zone as moto lists them (the zones of these tests fit one page). moto finds
/// the service by the request's credential scope, so the change's own signature goes along.
async fn records(
    change: &hyper::http::request::Parts,
    client: &Client<HttpConnector, Full<Bytes>>,
    upstream: &str,
) -> Vec<Named> {
    let uri = format!("{upstream}{}?maxitems=1000", change.uri.path().trim_end_matches('/'));
    let mut request = Request::get(uri);
    if let Some(authorization) = change.headers.get(hyper::header::AUTHORIZATION) {
        request = request.header(hyper::header::AUTHORIZATION, authorization);
    }
    let request = request.body(Full::new(Bytes::new())).expect("list request");
    let Ok(answer) = client.request(request).await else { return Vec::new() };
    let Ok(body) = answer.into_body().collect().await else { return Vec::new() };
    let text = String::from_utf8_lossy(&body.to_bytes()).to_string();
    elements(&text, "ResourceRecordSet").into_iter().filter_map(named).collect()
}

fn already_exists(record: &Named) -> Response<Full<Bytes>> {
    let body = format!(
        "<?xml version=\"1.0\"?>\n<ErrorResponse xmlns=\"https://route53.amazonaws.com/doc/2013-04-01/\">\
         <Error><Type>Sender</Type><Code>InvalidChangeBatch</Code><Message>[Tried to create resource record set \
         [name='{}.', type='{}', set-identifier='{}'] but it already exists]</Message></Error>\
         <RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>",
        record.name,
        record.record_type,
        record.set_identifier.as_deref().unwrap_or_default(),
    );
    Response::builder()
        .status(StatusCode::BAD_REQUEST)
        .header("content-type", "text/xml")
        .header("x-amzn-requestid", "00000000-0000-0000-0000-000000000000")
        .body(Full::new(Bytes::from(body)))
        .expect("static response")
}
