//! The simulator's Bulk APIs with Salesforce's shapes: Bulk 1.0 jobs in XML
//! (CSV batches), JSON and XML batches, batch lists, save results, query
//! jobs and their result sets, job states and bad batches; Bulk 2.0 ingest
//! (upload, UploadComplete, successful/failed/unprocessed results) and
//! query (results paged by `Sforce-Locator` and `maxRecords`).

use serde_json::{Value, json};
use twoway_sim::Sim;
use twoway_tests::{
    ACME_PASSWORD, ACME_USER, Client, Response, pki, soap_login, start_sim, xml_text, xml_texts,
};

const NS: &str = "http://www.force.com/2009/06/asyncapi/dataload";

struct Bulk {
    client: Client,
    host: String,
    session: String,
}

impl Bulk {
    async fn new(sim: &Sim) -> Self {
        Self {
            client: Client::with_identity(&pki().fullcert),
            host: sim.endpoints().mutual_url(),
            session: soap_login(&sim.endpoints().login_url(), ACME_USER, ACME_PASSWORD).await,
        }
    }

    async fn v1(&self, method: &str, resource: &str, content_type: &str, body: &str) -> Response {
        let url = format!("{}/services/async/59.0/{resource}", self.host);
        let headers = [
            ("x-sfdc-session", self.session.as_str()),
            ("content-type", content_type),
        ];
        self.client
            .send(method, &url, &headers, body.to_string())
            .await
    }

    async fn v2(&self, method: &str, resource: &str, content_type: &str, body: &str) -> Response {
        let url = format!("{}/services/data/v59.0/jobs/{resource}", self.host);
        let auth = format!("Bearer {}", self.session);
        let headers = [
            ("authorization", auth.as_str()),
            ("content-type", content_type),
        ];
        self.client
            .send(method, &url, &headers, body.to_string())
            .await
    }

    /// Creates a Bulk 2.0 query job on the accounts' names.
    async fn names_query(&self) -> Response {
        let query = r#"{"operation":"query","query":"SELECT Name FROM Account"}"#;
        let created = self.v2("POST", "query", "application/json", query).await;
        assert_eq!(created.status, 200, "{}", created.body);
        created
    }

    /// Creates a Bulk 1.0 job from XML; returns its id.
    async fn xml_job(
        &self,
        operation: &str,
        object: &str,
        content_type: &str,
        extra: &str,
    ) -> String {
        let body = format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><jobInfo xmlns="{NS}"><operation>{operation}</operation><object>{object}</object>{extra}<contentType>{content_type}</contentType></jobInfo>"#
        );
        let response = self
            .v1("POST", "job", "application/xml; charset=UTF-8", &body)
            .await;
        assert_eq!(response.status, 201, "{}", response.body);
        xml_text(&response.body, "id").unwrap()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn bulk1_csv_batches_run_and_report_per_record() {
    let sim = start_sim().await;
    let bulk = Bulk::new(&sim).await;
    let job = bulk.xml_job("insert", "Account", "CSV", "").await;
    let csv = "Name,Industry,NumberOfEmployees\n\"Quoted, Name\",Energy,12\n,Energy,3\nThird,Energy,many\n";
    let batch = bulk
        .v1(
            "POST",
            &format!("job/{job}/batch"),
            "text/csv; charset=UTF-8",
            csv,
        )
        .await;
    assert_eq!(batch.status, 201, "{}", batch.body);
    assert!(
        batch.body.starts_with(&format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><batchInfo xmlns="{NS}"><id>751"#
        )),
        "{}",
        batch.body
    );
    let batch_id = xml_text(&batch.body, "id").unwrap();
    assert_eq!(xml_text(&batch.body, "jobId").unwrap(), job);
    assert_eq!(xml_text(&batch.body, "state").as_deref(), Some("Completed"));
    assert_eq!(
        xml_text(&batch.body, "numberRecordsProcessed").as_deref(),
        Some("3")
    );
    assert_eq!(
        xml_text(&batch.body, "numberRecordsFailed").as_deref(),
        Some("2")
    );
    let results = bulk
        .v1(
            "GET",
            &format!("job/{job}/batch/{batch_id}/result"),
            "text/csv",
            "",
        )
        .await;
    assert_eq!(results.status, 200);
    assert_eq!(
        results.header("content-type"),
        Some("text/csv; charset=UTF-8")
    );
    let lines: Vec<&str> = results.body.lines().collect();
    assert_eq!(lines[0], r#""Id","Success","Created","Error""#);
    assert!(
        lines[1].starts_with(r#""001"#) && lines[1].ends_with(r#","true","true","""#),
        "{}",
        lines[1]
    );
    assert_eq!(
        lines[2],
        r#""","false","false","REQUIRED_FIELD_MISSING:Required fields are missing: [Name]""#
    );
    assert_eq!(
        lines[3],
        r#""","false","false","INVALID_TYPE_ON_FIELD_IN_RECORD:Employees: value not of required type: many""#
    );
    // The job lists its batch and counts; closing it stops new batches.
    let list = bulk.v1("GET", &format!("job/{job}/batch"), "", "").await;
    assert_eq!(xml_texts(&list.body, "id"), std::slice::from_ref(&batch_id));
    let closed = bulk
        .v1(
            "POST",
            &format!("job/{job}"),
            "application/xml",
            &format!(r#"<jobInfo xmlns="{NS}"><state>Closed</state></jobInfo>"#),
        )
        .await;
    assert_eq!(xml_text(&closed.body, "state").as_deref(), Some("Closed"));
    assert_eq!(
        xml_text(&closed.body, "numberBatchesCompleted").as_deref(),
        Some("1")
    );
    assert_eq!(
        xml_text(&closed.body, "numberRecordsProcessed").as_deref(),
        Some("3")
    );
    assert_eq!(
        xml_text(&closed.body, "numberRecordsFailed").as_deref(),
        Some("2")
    );
    let late = bulk
        .v1(
            "POST",
            &format!("job/{job}/batch"),
            "text/csv",
            "Name\nLate\n",
        )
        .await;
    assert_eq!(late.status, 400);
    assert_eq!(
        xml_text(&late.body, "exceptionCode").as_deref(),
        Some("InvalidJobState")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bulk1_json_jobs_speak_json() {
    let sim = start_sim().await;
    let bulk = Bulk::new(&sim).await;
    let created = bulk
        .v1("POST", "job", "application/json", r#"{"operation":"upsert","object":"Contact","contentType":"JSON","externalIdFieldName":"Email"}"#)
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let job = created.json();
    assert_eq!(job["operation"], "upsert");
    assert_eq!(job["externalIdFieldName"], "Email");
    assert_eq!(job["state"], "Open");
    assert_eq!(job["apiVersion"], 59.0);
    assert_eq!(job["numberBatchesTotal"], 0);
    let id = job["id"].as_str().unwrap();
    let records = json!([
        { "Email": "wile@coyote.example", "Title": "Genius" },
        { "Email": "new@coyote.example", "LastName": "Newcomer" },
        { "Email": "bad@coyote.example" },
    ]);
    let batch = bulk
        .v1(
            "POST",
            &format!("job/{id}/batch"),
            "application/json",
            &records.to_string(),
        )
        .await;
    assert_eq!(batch.status, 201, "{}", batch.body);
    let batch = batch.json();
    assert_eq!(batch["state"], "Completed");
    assert_eq!(batch["numberRecordsProcessed"], 3);
    let results = bulk
        .v1(
            "GET",
            &format!("job/{id}/batch/{}/result", batch["id"].as_str().unwrap()),
            "application/json",
            "",
        )
        .await
        .json();
    assert_eq!(results[0]["success"], true);
    assert_eq!(results[0]["created"], false);
    assert_eq!(results[1]["created"], true);
    assert_eq!(
        results[2],
        json!({ "success": false, "created": false, "id": null, "errors": [{ "message": "Required fields are missing: [LastName]", "fields": ["LastName"], "statusCode": "REQUIRED_FIELD_MISSING" }] })
    );
    let list = bulk
        .v1("GET", &format!("job/{id}/batch"), "application/json", "")
        .await
        .json();
    assert_eq!(list["batchInfo"].as_array().unwrap().len(), 1);
    // A batch that is not a JSON array is refused in JSON.
    let bad = bulk
        .v1(
            "POST",
            &format!("job/{id}/batch"),
            "application/json",
            "{\"not\":\"an array\"}",
        )
        .await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.json()["exceptionCode"], "InvalidBatch");
}

#[tokio::test(flavor = "multi_thread")]
async fn bulk1_xml_batches_and_query_jobs() {
    let sim = start_sim().await;
    let bulk = Bulk::new(&sim).await;
    let job = bulk.xml_job("insert", "Lead", "XML", "").await;
    let records = format!(
        r#"<sObjects xmlns="{NS}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><sObject><LastName>Bunny</LastName><Company>Warner</Company><Phone xsi:nil="true"/></sObject></sObjects>"#
    );
    let batch = bulk
        .v1(
            "POST",
            &format!("job/{job}/batch"),
            "application/xml",
            &records,
        )
        .await;
    let batch_id = xml_text(&batch.body, "id").unwrap();
    let results = bulk
        .v1("GET", &format!("job/{job}/batch/{batch_id}/result"), "", "")
        .await;
    assert!(
        results
            .body
            .contains("<success>true</success><created>true</created>"),
        "{}",
        results.body
    );
    // A query job: one result set per batch, records in the job's format.
    let job = bulk.xml_job("query", "Lead", "CSV", "").await;
    let batch = bulk
        .v1(
            "POST",
            &format!("job/{job}/batch"),
            "text/csv",
            "SELECT LastName, Company, Owner.Name FROM Lead ORDER BY LastName",
        )
        .await;
    let batch_id = xml_text(&batch.body, "id").unwrap();
    let list = bulk
        .v1("GET", &format!("job/{job}/batch/{batch_id}/result"), "", "")
        .await;
    let result = xml_text(&list.body, "result").unwrap();
    assert!(result.starts_with("752"), "{}", list.body);
    let set = bulk
        .v1(
            "GET",
            &format!("job/{job}/batch/{batch_id}/result/{result}"),
            "",
            "",
        )
        .await;
    assert_eq!(
        set.body,
        "\"LastName\",\"Company\",\"Owner.Name\"\n\"Bunny\",\"Warner\",\"Acme Integration\"\n\"Martian\",\"Mars Inc\",\"Acme Integration\"\n"
    );
    // A bad query fails its batch with Salesforce's message.
    let bad = bulk
        .v1(
            "POST",
            &format!("job/{job}/batch"),
            "text/csv",
            "SELECT Nope FROM Lead",
        )
        .await;
    assert_eq!(xml_text(&bad.body, "state").as_deref(), Some("Failed"));
    assert!(
        xml_text(&bad.body, "stateMessage")
            .unwrap()
            .contains("INVALID_FIELD"),
        "{}",
        bad.body
    );
    // Unknown jobs and batches.
    let unknown = bulk.v1("GET", "job/750000000000000AAA", "", "").await;
    assert_eq!(
        xml_text(&unknown.body, "exceptionCode").as_deref(),
        Some("InvalidJob")
    );
    let unknown = bulk
        .v1(
            "GET",
            &format!("job/{job}/batch/751000000000000AAA"),
            "",
            "",
        )
        .await;
    assert_eq!(
        xml_text(&unknown.body, "exceptionCode").as_deref(),
        Some("InvalidBatch")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bulk2_ingest_uploads_completes_and_reports() {
    let sim = start_sim().await;
    let bulk = Bulk::new(&sim).await;
    let created = bulk
        .v2(
            "POST",
            "ingest",
            "application/json",
            r#"{"object":"Contact","operation":"insert","lineEnding":"LF"}"#,
        )
        .await;
    assert_eq!(created.status, 200, "{}", created.body);
    let job = created.json();
    assert_eq!(job["state"], "Open");
    assert_eq!(job["jobType"], "V2Ingest");
    let id = job["id"].as_str().unwrap().to_string();
    assert_eq!(
        job["contentUrl"],
        format!("services/data/v59.0/jobs/ingest/{id}/batches")
    );
    let upload = bulk
        .v2("PUT", &format!("ingest/{id}/batches"), "text/csv", "LastName,Email\nDaffy,daffy@duck.example\n,nameless@duck.example\nDonald,not-an-email\n")
        .await;
    assert_eq!((upload.status, upload.body.as_str()), (201, ""));
    let closed = bulk
        .v2(
            "PATCH",
            &format!("ingest/{id}"),
            "application/json",
            r#"{"state":"UploadComplete"}"#,
        )
        .await;
    assert_eq!(closed.json()["state"], "UploadComplete");
    let done = bulk.v2("GET", &format!("ingest/{id}"), "", "").await.json();
    assert_eq!(done["state"], "JobComplete");
    assert_eq!(done["numberRecordsProcessed"], 3);
    assert_eq!(done["numberRecordsFailed"], 2);
    let ok = bulk
        .v2("GET", &format!("ingest/{id}/successfulResults"), "", "")
        .await;
    let lines: Vec<&str> = ok.body.lines().collect();
    assert_eq!(lines[0], r#""sf__Id","sf__Created","LastName","Email""#);
    assert!(
        lines[1].starts_with("\"003")
            && lines[1].ends_with(r#","true","Daffy","daffy@duck.example""#),
        "{}",
        lines[1]
    );
    let failed = bulk
        .v2("GET", &format!("ingest/{id}/failedResults"), "", "")
        .await;
    let lines: Vec<&str> = failed.body.lines().collect();
    assert_eq!(lines[0], r#""sf__Id","sf__Error","LastName","Email""#);
    assert_eq!(
        lines[1],
        r#""","REQUIRED_FIELD_MISSING:Required fields are missing: [LastName]:LastName --","","nameless@duck.example""#
    );
    assert!(lines[2].contains("INVALID_EMAIL_ADDRESS"), "{}", lines[2]);
    let unprocessed = bulk
        .v2("GET", &format!("ingest/{id}/unprocessedrecords"), "", "")
        .await;
    assert_eq!(unprocessed.body, "\"LastName\",\"Email\"\n");
    // A finished job takes no more data; then it can be deleted.
    let late = bulk
        .v2(
            "PUT",
            &format!("ingest/{id}/batches"),
            "text/csv",
            "LastName\nLate\n",
        )
        .await;
    assert_eq!(late.status, 400);
    assert_eq!(late.json()[0]["errorCode"], "INVALIDJOBSTATE");
    assert_eq!(
        bulk.v2("DELETE", &format!("ingest/{id}"), "", "")
            .await
            .status,
        204
    );
    assert_eq!(
        bulk.v2("GET", &format!("ingest/{id}"), "", "").await.status,
        404
    );
    // Bad jobs.
    let bad = bulk
        .v2(
            "POST",
            "ingest",
            "application/json",
            r#"{"object":"Contact","operation":"explode"}"#,
        )
        .await;
    assert_eq!(
        (bad.status, bad.json()[0]["errorCode"].clone()),
        (400, json!("INVALIDJOB"))
    );
    let bad = bulk
        .v2(
            "POST",
            "ingest",
            "application/json",
            r#"{"object":"Widget__c","operation":"insert"}"#,
        )
        .await;
    assert_eq!(bad.status, 400);
}

#[tokio::test(flavor = "multi_thread")]
async fn bulk2_query_pages_by_locator() {
    let sim = start_sim().await;
    let bulk = Bulk::new(&sim).await;
    let created = bulk
        .v2(
            "POST",
            "query",
            "application/json",
            r#"{"operation":"query","query":"SELECT Name, Industry FROM Account ORDER BY Name"}"#,
        )
        .await;
    assert_eq!(created.status, 200, "{}", created.body);
    let job = created.json();
    assert_eq!(job["object"], "Account");
    assert_eq!(job["operation"], "query");
    let id = job["id"].as_str().unwrap().to_string();
    let info = bulk.v2("GET", &format!("query/{id}"), "", "").await.json();
    assert_eq!(info["state"], "JobComplete");
    assert_eq!(info["numberRecordsProcessed"], 3);
    let first = bulk
        .v2("GET", &format!("query/{id}/results?maxRecords=2"), "", "")
        .await;
    assert_eq!(first.header("sforce-numberofrecords"), Some("2"));
    let locator = first.header("sforce-locator").unwrap().to_string();
    assert_ne!(locator, "null");
    assert_eq!(
        first.body,
        "\"Name\",\"Industry\"\n\"Acme Corporation\",\"Manufacturing\"\n\"Coyote Engineering\",\"Engineering\"\n"
    );
    let rest = bulk
        .v2(
            "GET",
            &format!("query/{id}/results?maxRecords=2&locator={locator}"),
            "",
            "",
        )
        .await;
    assert_eq!(rest.header("sforce-locator"), Some("null"));
    assert_eq!(rest.header("sforce-numberofrecords"), Some("1"));
    assert_eq!(
        rest.body,
        "\"Name\",\"Industry\"\n\"Road Runner Logistics\",\"Transportation\"\n"
    );
    // A malformed query is refused when the job is created.
    let bad = bulk
        .v2(
            "POST",
            "query",
            "application/json",
            r#"{"operation":"query","query":"SELECT FROM Account"}"#,
        )
        .await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.json()[0]["errorCode"], "MALFORMED_QUERY");
    let listed: Value = bulk.v2("GET", "query", "", "").await.json();
    assert_eq!(listed["done"], true);
    assert_eq!(listed["records"].as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_and_huge_batches_get_bulk_errors() {
    let sim = start_sim().await;
    let bulk = Bulk::new(&sim).await;
    let job = bulk.xml_job("insert", "Account", "CSV", "").await;
    // A row with more cells than the header.
    let ragged = bulk
        .v1(
            "POST",
            &format!("job/{job}/batch"),
            "text/csv",
            "Name\nA,extra\n",
        )
        .await;
    assert_eq!(ragged.status, 400);
    assert_eq!(
        xml_text(&ragged.body, "exceptionCode").as_deref(),
        Some("InvalidBatch")
    );
    assert!(
        xml_text(&ragged.body, "exceptionMessage")
            .unwrap()
            .contains("record 1"),
        "{}",
        ragged.body
    );
    // More than 10,000 records: the batch fails whole, nothing is saved.
    let mut csv = String::from("Name\n");
    for n in 0..10_001 {
        csv.push_str(&format!("Huge {n}\n"));
    }
    let huge = bulk
        .v1("POST", &format!("job/{job}/batch"), "text/csv", &csv)
        .await;
    assert_eq!(huge.status, 201, "{}", huge.body);
    assert_eq!(xml_text(&huge.body, "state").as_deref(), Some("Failed"));
    assert_eq!(
        xml_text(&huge.body, "stateMessage").as_deref(),
        Some("The number of records in a batch exceeded 10000")
    );
    assert_eq!(
        xml_text(&huge.body, "numberRecordsProcessed").as_deref(),
        Some("0")
    );
    // A JSON job refuses XML, and an XML job refuses a body that is not XML.
    let xml_job = bulk.xml_job("insert", "Account", "XML", "").await;
    let not_xml = bulk
        .v1(
            "POST",
            &format!("job/{xml_job}/batch"),
            "application/xml",
            "Name\nA\n",
        )
        .await;
    assert_eq!(
        xml_text(&not_xml.body, "exceptionCode").as_deref(),
        Some("InvalidBatch")
    );
    // Bulk 2.0: a CSV without a header row.
    let created = bulk
        .v2(
            "POST",
            "ingest",
            "application/json",
            r#"{"object":"Account","operation":"insert"}"#,
        )
        .await
        .json();
    let id = created["id"].as_str().unwrap();
    let empty = bulk
        .v2("PUT", &format!("ingest/{id}/batches"), "text/csv", "")
        .await;
    assert_eq!(empty.status, 400);
    assert_eq!(empty.json()[0]["errorCode"], "INVALIDREQUEST");
}

/// How an answer was framed on the wire (the client speaks HTTP/1.1).
fn framing(response: &Response) -> (Option<&str>, Option<&str>) {
    (
        response.header("transfer-encoding"),
        response.header("content-length"),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn bulk_results_and_large_answers_come_chunked_as_salesforce_sends_them() {
    let sim = start_sim().await;
    let bulk = Bulk::new(&sim).await;
    // Bulk 1.0: a batch's save results, chunked whatever their size.
    let job = bulk.xml_job("insert", "Account", "CSV", "").await;
    let batch = bulk
        .v1(
            "POST",
            &format!("job/{job}/batch"),
            "text/csv",
            "Name\nChunked\n",
        )
        .await;
    assert_eq!(batch.status, 201, "{}", batch.body);
    assert!(framing(&batch).1.is_some(), "batchInfo has a length");
    let batch_id = xml_text(&batch.body, "id").unwrap();
    let results = bulk
        .v1("GET", &format!("job/{job}/batch/{batch_id}/result"), "", "")
        .await;
    assert_eq!(results.status, 200, "{}", results.body);
    assert_eq!(framing(&results), (Some("chunked"), None));
    assert!(
        results.body.contains("\"true\",\"true\""),
        "{}",
        results.body
    );

    // Bulk 2.0: a query's results page, chunked; the job's info is not.
    let created = bulk.names_query().await;
    assert!(framing(&created).1.is_some(), "the job's info has a length");
    let id = created.json()["id"].as_str().unwrap().to_string();
    let page = bulk.v2("GET", &format!("query/{id}/results"), "", "").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(framing(&page), (Some("chunked"), None));
    assert!(page.body.starts_with("\"Name\"\n"), "{}", page.body);
    assert!(page.body.contains("Chunked"), "{}", page.body);
    // A REST answer past chunked_over_kb (32 KiB) goes chunked too; an
    // error on a result's URL does not.
    let url = format!(
        "{}/services/data/v59.0/sobjects/Account/describe",
        bulk.host
    );
    let auth = format!("Bearer {}", bulk.session);
    let describe = bulk
        .client
        .send("GET", &url, &[("authorization", auth.as_str())], "")
        .await;
    assert_eq!(describe.status, 200, "{}", describe.body);
    assert!(describe.body.len() > 32 * 1024, "{}", describe.body.len());
    assert_eq!(framing(&describe), (Some("chunked"), None));
    let missing = bulk
        .v2("GET", "query/750000000000000AAA/results", "", "")
        .await;
    assert_eq!(missing.status, 404, "{}", missing.body);
    assert!(framing(&missing).1.is_some());

    // chunked_answers = false: every answer has a Content-Length.
    let sim = twoway_tests::start_sim_with(|c| c.limits.chunked_answers = false).await;
    let bulk = Bulk::new(&sim).await;
    let id = bulk.names_query().await.json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let page = bulk.v2("GET", &format!("query/{id}/results"), "", "").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(framing(&page).0, None);
    assert_eq!(framing(&page).1, Some(page.body.len().to_string().as_str()));
}
