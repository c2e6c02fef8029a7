"""simple-salesforce through the gateway, beyond CRUD: the OpenID userinfo
(its oauth2() call) and the identity URL (a raw request with its session),
query paging (query_more on nextRecordsUrl, and query_all), and, when
SF_TOKEN_WAIT_MS is set, its own re-login after the gateway token expired:
the call that got INVALID_SESSION_ID is sent again and succeeds."""

import os
import time

from peer import connect, main

SOQL = "SELECT Name FROM Account ORDER BY Name"


def run():
    sf = connect()
    userinfo = sf.oauth2("userinfo")
    identity_url = f"https://{sf.sf_instance}/id/{userinfo['organization_id']}/{userinfo['user_id']}"
    identity = sf.session.get(identity_url, headers=sf.headers)
    first = sf.query(SOQL)
    more = sf.query_more(first["nextRecordsUrl"], identifier_is_url=True)
    everything = sf.query_all(SOQL)
    token = sf.session_id
    expired = None
    wait = int(os.environ.get("SF_TOKEN_WAIT_MS", "0"))
    if wait > 0:
        time.sleep(wait / 1000)
        again = sf.query_all(SOQL)
        expired = {
            "names": [r["Name"] for r in again["records"]],
            "newToken": sf.session_id != token,
        }
    return {
        "userinfo": userinfo,
        "identity": {"status": identity.status_code, "body": identity.json()},
        "pages": {
            "first": {"size": len(first["records"]), "done": first["done"], "next": first["nextRecordsUrl"], "total": first["totalSize"]},
            "more": {"names": [r["Name"] for r in more["records"]], "done": more["done"]},
            "all": [r["Name"] for r in everything["records"]],
        },
        "tokens": [token, sf.session_id],
        "expired": expired,
    }


main(run)
