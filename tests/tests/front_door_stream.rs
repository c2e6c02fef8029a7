//! Bulk bodies through the front door as they come: a Bulk 2.0 upload of
//! more than 100 MB made as it is sent, through a `twoway serve` process to
//! the simulator over mutual TLS, and its records read back as a query
//! result of the same size, while the gateway's peak memory stays far
//! below the body's size; the caps (`max_stream_mb`, `max_body_kb`) in the
//! client's format; a streamed upload meeting an expired session; gzip
//! request bodies decoded, zip bombs refused; answers gzip when the client
//! asks (passed through as the API compressed them), but those the gateway
//! reads.

use std::io::Write;

use flate2::Compression;
use flate2::write::GzEncoder;
use http_body_util::Full;
use serde_json::Value;
use twoway_tests::front_door::{self, CsvRows, count};
use twoway_tests::gateway::{TestGateway, server_tls};
use twoway_tests::{
    ACME_ORG, Client, Response, admin_post, api_envelope, start_sim, start_sim_with, xml_text,
};

/// A Bulk 2.0 request with the gateway token.
async fn bulk2(
    client: &Client,
    origin: &str,
    token: &str,
    method: &str,
    resource: &str,
    body: &str,
) -> Response {
    let url = format!("{origin}/services/data/v62.0/jobs/{resource}");
    let auth = format!("Bearer {token}");
    let headers = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
    ];
    client.send(method, &url, &headers, body.to_string()).await
}

/// A new Bulk 2.0 insert job on Account: its id.
async fn ingest_job(client: &Client, origin: &str, token: &str) -> String {
    let created = bulk2(
        client,
        origin,
        token,
        "POST",
        "ingest",
        r#"{"object":"Account","operation":"insert","lineEnding":"LF"}"#,
    )
    .await;
    assert_eq!(created.status, 200, "{}", created.body);
    created.json()["id"].as_str().unwrap().to_string()
}

/// A new Bulk 2.0 query job on the streamed Accounts: its id.
async fn query_job(client: &Client, origin: &str, token: &str) -> String {
    let created = bulk2(
        client,
        origin,
        token,
        "POST",
        "query",
        r#"{"operation":"query","query":"SELECT Name, Description FROM Account WHERE Name LIKE 'Stream %'"}"#,
    )
    .await;
    assert_eq!(created.status, 200, "{}", created.body);
    created.json()["id"].as_str().unwrap().to_string()
}

/// Closes the job's upload (UploadComplete): the job's state after it.
async fn close(client: &Client, origin: &str, token: &str, job: &str) -> Value {
    let closed = bulk2(
        client,
        origin,
        token,
        "PATCH",
        &format!("ingest/{job}"),
        r#"{"state":"UploadComplete"}"#,
    )
    .await;
    assert_eq!(closed.status, 200, "{}", closed.body);
    bulk2(client, origin, token, "GET", &format!("ingest/{job}"), "")
        .await
        .json()
}

/// PUTs `csv` (streamed, or not) as the job's data: the answer.
async fn upload<B>(client: &Client, origin: &str, token: &str, job: &str, csv: B) -> (u16, String)
where
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    upload_as(client, origin, token, job, csv, "").await
}

/// [`upload`] with `x-request-id: request_id` (none when empty).
async fn upload_as<B>(
    client: &Client,
    origin: &str,
    token: &str,
    job: &str,
    csv: B,
    request_id: &str,
) -> (u16, String)
where
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let url = format!("{origin}/services/data/v62.0/jobs/ingest/{job}/batches");
    let auth = format!("Bearer {token}");
    let mut headers = vec![
        ("authorization", auth.as_str()),
        ("content-type", "text/csv"),
    ];
    if !request_id.is_empty() {
        headers.push(("x-request-id", request_id));
    }
    let answer = client
        .open("PUT", &url, &headers, csv)
        .await
        .expect("an answer");
    let status = answer.status().as_u16();
    let body = http_body_util::BodyExt::collect(answer.into_body())
        .await
        .map(|b| String::from_utf8_lossy(&b.to_bytes()).into_owned())
        .unwrap_or_default();
    (status, body)
}

/// A CSV of `rows` Accounts with descriptions of `width` bytes, whole (a
/// body with a Content-Length).
fn sized(rows: usize, width: usize) -> Full<bytes::Bytes> {
    let row = format!("Sized,{}\n", "d".repeat(width));
    Full::new(format!("Name,Description\n{}", row.repeat(rows)).into())
}

/// Loads 750 Accounts of 2 KB (1.5 MB) in three streamed uploads (each past
/// `max_body_kb = 64`; the first as `first_upload`) and starts a query job
/// over them: its id and the first upload's size in bytes.
async fn loaded_query_job(
    client: &Client,
    origin: &str,
    token: &str,
    first_upload: &str,
) -> (String, u64) {
    let job = ingest_job(client, origin, token).await;
    let mut uploaded = 0;
    for n in 0..3 {
        let csv = CsvRows::new(250, 2000);
        if n == 0 {
            uploaded = csv.len();
        }
        let id = if n == 0 { first_upload } else { "" };
        let (status, body) = upload_as(client, origin, token, &job, csv, id).await;
        assert_eq!(status, 201, "{body}");
    }
    let done = close(client, origin, token, &job).await;
    assert_eq!(done["numberRecordsProcessed"], 750, "{done}");
    (query_job(client, origin, token).await, uploaded)
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bulk2_upload_and_its_results_over_100_mb_stream_through_a_gateway_process() {
    let sim = start_sim().await;
    let mut gw = TestGateway::configure(
        &sim,
        &server_tls("{pki}/root-ca.pem"),
        &front_door::acme(""),
        &[],
    );
    let process = gw.serve_process(&[]);
    let origin = gw.url.replacen("http://", "https://", 1);
    let client = Client::anonymous();
    let token = front_door::token(&client, &origin).await;
    let job = ingest_job(&client, &origin, &token).await;
    let before = process.peak_memory();

    // 9000 rows of 12 KB: about 108 MB, made as they are sent.
    let (rows, width) = (9000, 12_000);
    let csv = CsvRows::new(rows, width);
    let size = csv.len();
    assert!(size > 100 << 20, "{size}");
    let (status, body) = upload(&client, &origin, &token, &job, csv).await;
    assert_eq!(status, 201, "{body}");
    let done = close(&client, &origin, &token, &job).await;
    assert_eq!(done["state"], "JobComplete", "{done}");
    assert_eq!(
        done["numberRecordsProcessed"], rows,
        "every row reached the API"
    );
    assert_eq!(done["numberRecordsFailed"], 0, "{done}");

    // The same records back as one query result page, read as it comes.
    let query = query_job(&client, &origin, &token).await;
    let url = format!("{origin}/services/data/v62.0/jobs/query/{query}/results");
    let auth = format!("Bearer {token}");
    let answer = client
        .open(
            "GET",
            &url,
            &[("authorization", auth.as_str())],
            Full::new(bytes::Bytes::new()),
        )
        .await
        .expect("an answer");
    assert_eq!(answer.status(), 200);
    assert_eq!(
        answer
            .headers()
            .get("sforce-numberofrecords")
            .and_then(|v| v.to_str().ok()),
        Some(rows.to_string().as_str())
    );
    let (bytes, lines) = count(answer.into_body()).await;
    assert_eq!(lines, rows as u64 + 1, "a header and every row");
    assert!(bytes > 100 << 20, "{bytes} bytes of results");

    // Neither body was held: the gateway's peak grew by far less than one.
    let grown = process.peak_memory().saturating_sub(before);
    assert!(
        grown < 32 << 20,
        "the gateway's peak memory grew by {} MB for a {} MB upload and download",
        grown >> 20,
        size >> 20
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn streamed_bodies_are_capped_and_a_rejected_session_is_the_clients_to_retry() {
    let sim = start_sim().await;
    let (_gw, origin) = front_door::start(&sim, "max_body_kb = 64\n", "", &[]).await;
    let client = Client::anonymous();
    let token = front_door::token(&client, &origin).await;

    // Past max_body_kb, a Bulk upload streams; a small one is held.
    let job = ingest_job(&client, &origin, &token).await;
    let (status, body) = upload(&client, &origin, &token, &job, CsvRows::new(100, 2000)).await;
    assert_eq!(status, 201, "{body}");

    // The session expires: a held body is sent again after a re-login...
    admin_post(&sim, "/sessions/expire").await;
    let (status, body) = upload(&client, &origin, &token, &job, CsvRows::new(2, 10)).await;
    assert_eq!(status, 201, "a held body is retried: {body}");

    // ...a streamed one went once: the API's INVALID_SESSION_ID comes back
    // as it gave it, and the client's own retry works.
    admin_post(&sim, "/sessions/expire").await;
    let (status, body) = upload(&client, &origin, &token, &job, CsvRows::new(100, 2000)).await;
    assert_eq!(status, 401, "{body}");
    let errors: Value = serde_json::from_str(&body).expect("a REST error array");
    assert_eq!(errors[0]["errorCode"], "INVALID_SESSION_ID", "{body}");
    let (status, body) = upload(&client, &origin, &token, &job, CsvRows::new(100, 2000)).await;
    assert_eq!(status, 201, "the client's retry: {body}");

    // A Bulk upload with a Content-Length past max_body_kb streams too.
    let (status, body) = upload(&client, &origin, &token, &job, sized(4_000, 24)).await;
    assert_eq!(status, 201, "{body}");

    // Other REST bodies are held, and refused past max_body_kb in the
    // client's format: on their head when a Content-Length says so, else
    // once the cap is read. The gateway reads and throws away the rest
    // before it closes (lingering close), so a client still sending
    // reads the 413 rather than a broken connection: one try each.
    let (auth, url) = (
        format!("Bearer {token}"),
        format!("{origin}/services/data/v62.0/sobjects/Account"),
    );
    let headers = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
    ];
    let big = serde_json::json!({ "Name": "x".repeat(4 << 20) });
    let refused = client
        .try_send("POST", &url, &headers, big.to_string())
        .await
        .expect("the 413, not a broken connection");
    assert_eq!(refused.status, 413, "{}", refused.body);
    assert_eq!(refused.header("connection"), Some("close"));
    let message = refused.json()[0]["message"].as_str().unwrap().to_string();
    assert!(message.contains("max_body_kb"), "{message}");
    assert!(message.contains("was not read"), "{message}");
    let answer = client
        .open("POST", &url, &headers, CsvRows::new(2000, 2000))
        .await
        .expect("the 413, not a broken connection");
    assert_eq!(answer.status(), 413);
    let body = http_body_util::BodyExt::collect(answer.into_body())
        .await
        .expect("the whole answer")
        .to_bytes();
    let errors: Value = serde_json::from_slice(&body).expect("a REST error array");
    assert_eq!(
        errors[0]["errorCode"], "EXCEEDED_MAX_SIZE_REQUEST",
        "{errors}"
    );
    // A SOAP call too large is a SOAP fault.
    let envelope = api_envelope(&token, &"<x/>".repeat(1 << 20));
    let fault = client
        .try_send(
            "POST",
            &format!("{origin}/services/Soap/u/62.0"),
            &[("content-type", "text/xml"), ("soapaction", "query")],
            envelope,
        )
        .await
        .expect("the fault, not a broken connection");
    assert_eq!(fault.status, 500, "{}", fault.body);
    assert_eq!(
        xml_text(&fault.body, "faultcode").as_deref(),
        Some("sf:EXCEEDED_MAX_SIZE_REQUEST"),
        "{}",
        fault.body
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stream_past_max_stream_mb_is_refused_in_the_clients_format() {
    // Answers with a Content-Length (a chunked one: the test below).
    let sim = start_sim_with(|c| c.limits.chunked_answers = false).await;
    let (_gw, origin) = front_door::start(
        &sim,
        "max_body_kb = 64\n[front_door]\nmax_stream_mb = 1\n",
        "",
        &[],
    )
    .await;
    let client = Client::anonymous();
    let token = front_door::token(&client, &origin).await;
    let job = ingest_job(&client, &origin, &token).await;
    // About 2 MB.
    let (status, body) = upload(&client, &origin, &token, &job, CsvRows::new(1000, 2000)).await;
    assert_eq!(status, 413, "{body}");
    let errors: Value = serde_json::from_str(&body).expect("a REST error array");
    assert!(
        errors[0]["message"]
            .as_str()
            .unwrap()
            .contains("max_stream_mb"),
        "{body}"
    );
    // With a Content-Length over it: refused before any of it is read.
    let (status, body) = upload(&client, &origin, &token, &job, sized(300_000, 1)).await;
    assert_eq!(status, 413, "{body}");
    let errors: Value = serde_json::from_str(&body).expect("a REST error array");
    let message = errors[0]["message"].as_str().unwrap();
    assert!(message.contains("max_stream_mb"), "{body}");
    assert!(message.contains("was not read"), "{body}");
    // Nothing of either was taken as the job's data.
    let (status, body) = upload(&client, &origin, &token, &job, CsvRows::new(3, 10)).await;
    assert_eq!(status, 201, "{body}");
    let done = close(&client, &origin, &token, &job).await;
    assert_eq!(done["numberRecordsProcessed"], 3, "{done}");

    // An answer whose Content-Length is over the cap (1.5 MB of results)
    // is refused before any of it goes, in the client's format.
    let (id, _) = loaded_query_job(&client, &origin, &token, "").await;
    let results = bulk2(
        &client,
        &origin,
        &token,
        "GET",
        &format!("query/{id}/results"),
        "",
    )
    .await;
    assert_eq!(results.status, 502, "{}", results.body);
    let message = results.json()[0]["message"].as_str().unwrap().to_string();
    assert!(message.contains("max_stream_mb"), "{message}");
    assert!(message.contains("Content-Length"), "{message}");
}

/// Reads an answer's body a frame at a time: its bytes and rows, and
/// whether it arrived whole (else the error that ended it).
async fn read_all(mut body: hyper::body::Incoming) -> (u64, u64, Result<(), String>) {
    use http_body_util::BodyExt;
    let (mut bytes, mut lines) = (0u64, 0u64);
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(frame) => {
                if let Some(data) = frame.data_ref() {
                    bytes += data.len() as u64;
                    lines += data.iter().filter(|b| **b == b'\n').count() as u64;
                }
            }
            Err(e) => return (bytes, lines, Err(format!("{e:?}"))),
        }
    }
    (bytes, lines, Ok(()))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_chunked_answer_past_max_stream_mb_is_cut_and_the_gateway_says_so() {
    // The simulator sends Bulk results chunked, as Salesforce does: no
    // Content-Length to refuse on, so the cap acts while the answer goes.
    let sim = start_sim().await;
    let server = format!(
        "max_body_kb = 64\n{}\n[front_door]\nmax_stream_mb = 1\n",
        server_tls("{pki}/root-ca.pem")
    );
    let mut gw = TestGateway::configure(&sim, &server, &front_door::acme(""), &[]);
    let process = gw.serve_process_logged(&["--log-format", "json"], &[]);
    let origin = gw.url.replacen("http://", "https://", 1);
    let client = Client::anonymous();
    let token = front_door::token(&client, &origin).await;
    let auth = format!("Bearer {token}");

    let (id, uploaded) = loaded_query_job(&client, &origin, &token, "req-upload").await;
    let results = format!("{origin}/services/data/v62.0/jobs/query/{id}/results");
    let get = |url: String, request_id: &'static str| {
        let (client, auth) = (client.clone(), auth.clone());
        async move {
            let headers = [
                ("authorization", auth.as_str()),
                ("x-request-id", request_id),
            ];
            client
                .open("GET", &url, &headers, Full::new(bytes::Bytes::new()))
                .await
                .expect("an answer")
        }
    };
    let chunked = |answer: &http::Response<hyper::body::Incoming>| {
        let header = |name| answer.headers().get(name).and_then(|v| v.to_str().ok());
        header("transfer-encoding") == Some("chunked") && header("content-length").is_none()
    };

    // Under the cap (250 rows, about 500 KB): whole, every record.
    let under = get(format!("{results}?maxRecords=250"), "req-under").await;
    assert_eq!(under.status(), 200);
    assert!(chunked(&under), "{:?}", under.headers());
    let (under_bytes, lines, whole) = read_all(under.into_body()).await;
    assert_eq!(whole, Ok(()));
    assert_eq!(lines, 251, "a header and 250 rows");

    // Over it (750 rows): the head goes, the body is cut past 1 MiB
    // without its last chunk, so the client sees an incomplete transfer,
    // never a shorter body that looks whole.
    let over = get(results.clone(), "req-over").await;
    assert_eq!(over.status(), 200);
    assert!(chunked(&over), "{:?}", over.headers());
    let (over_bytes, lines, whole) = read_all(over.into_body()).await;
    assert!(
        whole.is_err(),
        "{over_bytes} bytes, {lines} lines arrived as if whole"
    );
    assert!(
        over_bytes <= 1 << 20,
        "{over_bytes} bytes passed the 1 MiB cap"
    );
    assert!(lines < 751, "{lines}");

    // curl says so too: exit 18, a partial transfer.
    let bearer = format!("Authorization: {auth}");
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("curl")
            .args(["-sS", "-o", "/dev/null", "--cacert"])
            .arg(&twoway_tests::pki().root_ca)
            .args(["-H", &bearer, "-H", "x-request-id: req-curl", &results])
            .output()
            .expect("the curl binary is needed for this test (scripts/test installs it)")
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(18), "{stderr}");

    // The dashboard lists the cut answers, by tenant and API.
    let overview = gw.admin_get("/admin/overview").await;
    let problems = overview.json()["problems"].clone();
    for request_id in ["req-over", "req-curl"] {
        let listed = problems
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["request_id"] == request_id)
            .unwrap_or_else(|| panic!("{request_id} in {problems}"));
        assert_eq!(listed["code"], "upstream_too_large", "{listed}");
        assert_eq!(listed["tenant"], "acme", "{listed}");
        assert_eq!(listed["api"], "bulk2", "{listed}");
    }

    // The access log: the cut answer's line says so, with the bytes that
    // went; the whole one's bytes are all of it; the streamed upload's
    // bytes in are counted; a warning names the request.
    process.signal(nix::sys::signal::Signal::SIGTERM);
    let (code, _, stderr) = process.wait(std::time::Duration::from_secs(120));
    assert_eq!(code, 0, "{stderr:#?}");
    let lines: Vec<Value> = stderr
        .iter()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    let access = |request_id: &str| twoway_tests::process::access_line(&lines, request_id);
    let line = access("req-upload");
    assert_eq!(line["bytes_in"], uploaded, "{line}");
    assert_eq!(line["status"], 201, "{line}");
    let line = access("req-under");
    assert_eq!(line["bytes_out"], under_bytes, "{line}");
    assert_eq!(line["complete"], true, "{line}");
    assert!(line.get("problem").is_none(), "{line}");
    let line = access("req-over");
    assert_eq!(line["status"], 200, "{line}");
    assert_eq!(line["problem"], "upstream_too_large", "{line}");
    assert_eq!(line["complete"], false, "{line}");
    assert!(line["bytes_out"].as_u64().unwrap() <= 1 << 20, "{line}");
    let warned = lines.iter().any(|l| {
        l["level"] == "WARN"
            && l["fields"]["request_id"] == "req-over"
            && l["fields"]["error"]
                .as_str()
                .is_some_and(|e| e.contains("1048576-byte limit"))
    });
    assert!(warned, "a warning for req-over: {lines:#?}");
    let all = stderr.join("\n");
    assert!(!all.contains(&token), "the gateway token is in the log");
}

#[tokio::test(flavor = "multi_thread")]
async fn gzip_bodies_are_decoded_and_zip_bombs_refused_in_the_clients_format() {
    let sim = start_sim().await;
    let (gw, origin) = front_door::start(&sim, "", "", &[]).await;
    let client = Client::anonymous();
    let token = front_door::token(&client, &origin).await;

    // WSC: a gzip SOAP call (the session goes into the decoded envelope).
    let envelope = api_envelope(
        &token,
        r#"<query xmlns="urn:partner.soap.sforce.com"><queryString>SELECT Id, Name FROM Account</queryString></query>"#,
    );
    let soap_headers = [
        ("content-type", "text/xml; charset=UTF-8"),
        ("soapaction", "query"),
        ("content-encoding", "gzip"),
        ("accept-encoding", "gzip"),
    ];
    let url = format!("{origin}/services/Soap/u/62.0/{ACME_ORG}");
    let answer = client
        .open(
            "POST",
            &url,
            &soap_headers,
            Full::new(bytes::Bytes::from(gzip(envelope.as_bytes()))),
        )
        .await
        .expect("an answer");
    let (head, body) = answer.into_parts();
    let body = http_body_util::BodyExt::collect(body).await.unwrap();
    assert_eq!(head.status, 200);
    assert_eq!(
        encoding(&head),
        Some("gzip"),
        "the answer as the API gave it"
    );
    let body = gunzip(&body.to_bytes());
    assert!(body.contains("queryResponse"), "{body}");

    // REST with a gzip JSON body.
    let auth = format!("Bearer {token}");
    let rest_headers = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
        ("content-encoding", "gzip"),
    ];
    let created = client
        .send(
            "POST",
            &format!("{origin}/services/data/v62.0/sobjects/Account"),
            &rest_headers,
            gzip(br#"{"Name":"Gzipped Inc"}"#),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);

    // A bomb: 20 KB of gzip that decodes to 20 MB, over max_body_kb.
    let bomb = gzip(&vec![b' '; 20 << 20]);
    assert!(bomb.len() < 64 * 1024, "{}", bomb.len());
    let refused = client
        .send(
            "POST",
            &format!("{origin}/services/data/v62.0/sobjects/Account"),
            &rest_headers,
            bomb.clone(),
        )
        .await;
    assert_eq!(refused.status, 413, "{}", refused.body);
    assert!(
        refused.json()[0]["message"]
            .as_str()
            .unwrap()
            .contains("after gzip decoding"),
        "{}",
        refused.body
    );
    let refused = client.send("POST", &url, &soap_headers, bomb).await;
    assert_eq!(refused.status, 500, "{}", refused.body);
    assert_eq!(
        xml_text(&refused.body, "faultcode").as_deref(),
        Some("sf:EXCEEDED_MAX_SIZE_REQUEST"),
        "{}",
        refused.body
    );

    // Not gzip after all, and an encoding nobody accepts.
    let broken = client
        .send(
            "POST",
            &format!("{origin}/services/data/v62.0/sobjects/Account"),
            &rest_headers,
            b"{\"Name\":\"plain\"}".to_vec(),
        )
        .await;
    assert_eq!(broken.status, 400, "{}", broken.body);
    assert!(broken.body.contains("not valid gzip"), "{}", broken.body);
    let brotli = client
        .send(
            "POST",
            &format!("{origin}/services/data/v62.0/sobjects/Account"),
            &[
                ("authorization", auth.as_str()),
                ("content-type", "application/json"),
                ("content-encoding", "br"),
            ],
            b"{}".to_vec(),
        )
        .await;
    assert_eq!(brotli.status, 400, "{}", brotli.body);
    assert!(brotli.body.contains("Content-Encoding"), "{}", brotli.body);

    // Each request a credential tied to the tenant is counted by API and
    // how it ended (the refusals above came before any credential).
    let missing = client
        .rest(
            "GET",
            &format!("{origin}/services/data/v62.0/sobjects/Account/001000000000000AAA"),
            &token,
            None,
        )
        .await;
    assert_eq!(missing.status, 404, "{}", missing.body);
    for series in [
        r#"twoway_front_door_requests_total{tenant="acme",api="soap-partner",code="success"} 2"#,
        r#"twoway_front_door_requests_total{tenant="acme",api="rest",code="success"} 1"#,
        r#"twoway_front_door_requests_total{tenant="acme",api="rest",code="fault"} 1"#,
        r#"twoway_front_door_request_duration_seconds_count{tenant="acme",api="rest"} 2"#,
    ] {
        gw.wait_for_metric(series).await;
    }
}

/// A request's answer, its body as the wire carried it: `(head, bytes)`.
async fn raw(
    client: &Client,
    url: &str,
    headers: &[(&str, &str)],
) -> (http::response::Parts, bytes::Bytes) {
    let answer = client
        .open("GET", url, headers, Full::new(bytes::Bytes::new()))
        .await
        .expect("an answer");
    let (head, body) = answer.into_parts();
    let body = http_body_util::BodyExt::collect(body)
        .await
        .expect("the whole body")
        .to_bytes();
    (head, body)
}

fn gunzip(data: &[u8]) -> String {
    let mut out = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(data), &mut out)
        .expect("a gzip body");
    out
}

fn encoding(head: &http::response::Parts) -> Option<&str> {
    head.headers
        .get("content-encoding")
        .and_then(|v| v.to_str().ok())
}

/// The real session (the simulator's start so) is in no part of an answer.
#[track_caller]
fn assert_no_session(head: &http::response::Parts, wire: &[u8], decoded: &str) {
    let canary = format!("{ACME_ORG}!");
    assert!(!decoded.contains(&canary), "the session leaked: {decoded}");
    assert!(
        !String::from_utf8_lossy(wire).contains(&canary),
        "the session leaked"
    );
    for (name, value) in &head.headers {
        assert!(
            !value.to_str().unwrap_or("").contains(&canary),
            "the session leaked in {name}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn answers_go_back_gzip_when_the_client_asks_and_read_ones_decoded() {
    let sim = start_sim().await;
    let (_gw, origin) = front_door::start(&sim, "", "", &[]).await;
    let client = Client::anonymous();
    let token = front_door::token(&client, &origin).await;
    let job = ingest_job(&client, &origin, &token).await;
    let (status, body) = upload(&client, &origin, &token, &job, CsvRows::new(400, 1000)).await;
    assert_eq!(status, 201, "{body}");
    let done = close(&client, &origin, &token, &job).await;
    assert_eq!(done["numberRecordsProcessed"], 400, "{done}");
    let auth = format!("Bearer {token}");
    let gzip = [
        ("authorization", auth.as_str()),
        ("accept-encoding", "gzip, deflate, br"),
    ];

    // A query page the client asked gzip for: compressed by the API and
    // passed through as it came, the records whole once decoded.
    let query = format!(
        "{origin}/services/data/v62.0/query?q=SELECT+Name,Description+FROM+Account+WHERE+Name+LIKE+'Stream+%25'"
    );
    let (head, wire) = raw(&client, &query, &gzip).await;
    assert_eq!(head.status, 200);
    assert_eq!(encoding(&head), Some("gzip"));
    let page = gunzip(&wire);
    let records: Value = serde_json::from_str(&page).expect("JSON");
    assert_eq!(records["totalSize"], 400, "{page}");
    assert!(
        wire.len() * 10 < page.len(),
        "{} bytes on the wire for {}",
        wire.len(),
        page.len()
    );
    assert_no_session(&head, &wire, &page);
    // Not asked for, not given.
    let (head, wire) = raw(&client, &query, &gzip[..1]).await;
    assert_eq!(encoding(&head), None);
    assert_eq!(wire.len(), page.len());

    // A Bulk 2.0 result (streamed) the same way.
    let id = query_job(&client, &origin, &token).await;
    let url = format!("{origin}/services/data/v62.0/jobs/query/{id}/results");
    let (head, wire) = raw(&client, &url, &gzip).await;
    assert_eq!(head.status, 200);
    assert_eq!(encoding(&head), Some("gzip"));
    let csv = gunzip(&wire);
    assert_eq!(csv.lines().count(), 401, "a header and every row");
    assert!(wire.len() * 10 < csv.len(), "{}", wire.len());
    assert_no_session(&head, &wire, &csv);

    // An error answer is read by the gateway (is it INVALID_SESSION_ID?):
    // it goes back decoded, and is right.
    let missing = format!("{origin}/services/data/v62.0/sobjects/Account/001000000000000AAA");
    let (head, wire) = raw(&client, &missing, &gzip).await;
    assert_eq!(head.status, 404);
    assert_eq!(encoding(&head), None);
    let errors: Value = serde_json::from_slice(&wire).expect("a REST error array");
    assert_eq!(errors[0]["errorCode"], "NOT_FOUND", "{errors}");

    // An answer the gateway rewrites is asked for uncompressed.
    let userinfo = format!("{origin}/services/oauth2/userinfo");
    let (head, wire) = raw(&client, &userinfo, &gzip).await;
    assert_eq!(head.status, 200);
    assert_eq!(encoding(&head), None);
    let info: Value = serde_json::from_slice(&wire).expect("JSON");
    let rest = info["urls"]["rest"].as_str().expect("urls.rest");
    assert!(rest.starts_with(&origin), "{info}");

    // curl --compressed: fewer bytes downloaded than it writes out.
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("curl")
            .args(["-s", "--compressed", "--cacert"])
            .arg(&twoway_tests::pki().root_ca)
            .args(["-H", &format!("Authorization: Bearer {token}")])
            .args(["-w", "\n%{size_download}", &query])
            .output()
            .expect("the curl binary is needed for this test (scripts/test installs it)")
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("UTF-8");
    let (body, downloaded) = text.rsplit_once('\n').expect("size trailer");
    let downloaded: usize = downloaded.parse().expect("size");
    assert_eq!(body, page, "curl decoded the same page");
    assert!(
        downloaded * 10 < body.len(),
        "{downloaded} bytes downloaded"
    );
}
