"""simple-salesforce's describe(), sObject describe, limits(), search,
query_all(include_deleted=True), get_by_custom_id and upsert by external id
against the simulator."""

from peer import attempt, connect, main


def run():
    sf = connect()
    described = sf.describe()
    account = sf.Account.describe()
    limits = sf.limits()
    found = sf.search("FIND {Coyote} RETURNING Account(Id, Name ORDER BY Name), Contact(LastName)")
    quick = sf.quick_search("Runner")
    by_external = sf.Account.get_by_custom_id("External_Id__c", "acme-3")
    upserted = sf.Account.upsert("External_Id__c/acme-9", {"Name": "Acme Nine"})
    upserted_again = sf.Account.upsert("External_Id__c/acme-9", {"Name": "Acme Nine, renamed"})
    nine = sf.Account.get_by_custom_id("External_Id__c", "acme-9")
    temp = sf.Contact.create({"LastName": "Fleeting"})
    sf.Contact.delete(temp["id"])
    everything = sf.query_all("SELECT Id, IsDeleted FROM Contact WHERE LastName = 'Fleeting'", include_deleted=True)
    live = sf.query_all("SELECT Id FROM Contact WHERE LastName = 'Fleeting'")
    grouped = sf.query("SELECT Industry, COUNT(Id) n FROM Account GROUP BY Industry ORDER BY Industry")
    missing = attempt(sf.Account.get_by_custom_id, "External_Id__c", "no-such")
    malformed = attempt(sf.query, "SELECT Id FROM Account WHERE Name = ")
    return {
        "names": [o["name"] for o in described["sobjects"]],
        "account": {
            "keyPrefix": account["keyPrefix"],
            "fields": {f["name"]: {"type": f["type"], "externalId": f["externalId"], "nillable": f["nillable"]} for f in account["fields"]},
            "children": [c["relationshipName"] for c in account["childRelationships"]],
        },
        "dailyApiRequests": limits["DailyApiRequests"],
        "search": [{"type": r["attributes"]["type"], "Name": r.get("Name"), "LastName": r.get("LastName")} for r in found["searchRecords"]],
        "quick": [r["attributes"]["type"] for r in quick["searchRecords"]],
        "byExternal": {"Name": by_external["Name"], "External_Id__c": by_external["External_Id__c"]},
        "upserted": [upserted, upserted_again],
        "nine": nine["Name"],
        "queryAll": [{"Id": r["Id"], "IsDeleted": r["IsDeleted"]} for r in everything["records"]],
        "deletedId": temp["id"],
        "live": live["totalSize"],
        "grouped": [{"Industry": r["Industry"], "n": r["n"]} for r in grouped["records"]],
        "missing": missing.get("error"),
        "malformed": malformed.get("error"),
    }


main(run)
