"""simple-salesforce against the simulator: SOAP login at its default API
version, query (and how its answer was encoded on the wire), create, get,
update, delete, and what a deleted record's get raises."""

from peer import attempt, connect, main


def run():
    sf = connect()
    # What the query's answer was encoded with on the wire (requests asks
    # for gzip and decodes it).
    seen = []
    sf.session.hooks["response"].append(
        lambda r, *args, **kwargs: seen.append(r.headers.get("Content-Encoding"))
    )
    accounts = sf.query("SELECT Id, Name FROM Account")
    query_encoding = seen[-1] if seen else None
    created = sf.Account.create({"Name": "simple-salesforce Test Account", "Industry": "Testing"})
    read = sf.Account.get(created["id"])
    updated = sf.Account.update(created["id"], {"Industry": "Updated"})
    reread = sf.Account.get(created["id"])
    deleted = sf.Account.delete(created["id"])
    gone = attempt(sf.Account.get, created["id"])
    return {
        "version": sf.sf_version,
        "instance": sf.sf_instance,
        "queryEncoding": query_encoding,
        "accounts": {
            "totalSize": accounts["totalSize"],
            "done": accounts["done"],
            "names": [r["Name"] for r in accounts["records"]],
        },
        "created": created,
        "read": {"Id": read["Id"], "Name": read["Name"], "Industry": read["Industry"]},
        "updated": updated,
        "reread": {"Industry": reread["Industry"]},
        "deleted": deleted,
        "gone": gone.get("error"),
    }


main(run)
