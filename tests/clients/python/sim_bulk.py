"""simple-salesforce's Bulk API 1.0 (JSON jobs: insert, upsert, query,
delete) and Bulk API 2.0 (insert from records, query paged by maxRecords)
against the simulator."""

import csv
import io

from peer import connect, main


def rows(text):
    return list(csv.DictReader(io.StringIO(text)))


def run():
    sf = connect()
    inserted = sf.bulk.Account.insert(
        [{"Name": "Bulk One", "Industry": "Energy"}, {"Industry": "Energy"}], batch_size=10000
    )
    queried = sf.bulk.Account.query("SELECT Name, Industry FROM Account WHERE Industry = 'Energy'")
    upserted = sf.bulk.Contact.upsert([{"Email": "bulk@coyote.example", "LastName": "Bulky"}], "Email")
    deleted = sf.bulk.Account.delete([{"Id": inserted[0]["id"]}])
    after = sf.bulk.Account.query_all("SELECT Name, IsDeleted FROM Account WHERE Name = 'Bulk One'")
    v2 = sf.bulk2.Lead.insert(
        records=[
            {"LastName": "Two", "Company": "Bulk2 Co"},
            {"LastName": "Three", "Company": "Bulk2 Co"},
            {"Company": "Bulk2 Co"},
        ],
        wait=0.1,
    )
    failed = sf.bulk2.Lead.get_failed_records(v2[0]["job_id"])
    pages = list(
        sf.bulk2.Lead.query(
            "SELECT LastName, Company FROM Lead WHERE Company = 'Bulk2 Co' ORDER BY LastName",
            max_records=1,
            wait=0.1,
        )
    )
    return {
        "inserted": inserted,
        "queried": [{"Name": r["Name"], "Industry": r["Industry"], "type": r["attributes"]["type"]} for r in queried],
        "upserted": upserted,
        "deleted": deleted,
        "after": [{"Name": r["Name"], "IsDeleted": r["IsDeleted"]} for r in after],
        "v2": [{k: v for k, v in r.items() if k != "job_id"} for r in v2],
        "failed": rows(failed),
        "pages": [rows(p) for p in pages],
    }


main(run)
