"""What every simple-salesforce test script shares: a connection from the
environment tests/src/clients.rs sets (SF_LOGIN_URL, SF_USERNAME,
SF_PASSWORD, SF_INSTANCE_URL, SF_CLIENT_CERT, SF_VERSION), and printing the
result as JSON."""

import json
import os
import sys
import traceback

import requests
from simple_salesforce import Salesforce
from simple_salesforce.api import DEFAULT_API_VERSION


def connect():
    """Logs in with simple-salesforce's own SOAP login.

    simple-salesforce only logs in at https://{domain}.salesforce.com, so the
    simulator's host:port goes into `domain` with a trailing `?x=`: the
    client's `.salesforce.com/services/Soap/u/{version}` suffix becomes a
    query string the simulator ignores. API calls then go to the login's
    serverUrl, or to SF_INSTANCE_URL when set (a session-id connection)."""
    env = os.environ
    version = env.get("SF_VERSION", DEFAULT_API_VERSION)
    host = env["SF_LOGIN_URL"].removeprefix("https://")
    session = requests.Session()
    if env.get("SF_CLIENT_CERT"):
        session.cert = env["SF_CLIENT_CERT"]
    sf = Salesforce(
        username=env["SF_USERNAME"],
        password=env["SF_PASSWORD"],
        security_token="",
        domain=f"{host}/services/Soap/u/{version}?x=",
        version=version,
        session=session,
    )
    if env.get("SF_INSTANCE_URL"):
        sf = Salesforce(
            session_id=sf.session_id,
            instance_url=env["SF_INSTANCE_URL"],
            version=version,
            session=session,
        )
    return sf


def describe(err):
    """An error as the tests compare it: the exception's class and what the
    client made of the server's answer."""
    return {
        "type": type(err).__name__,
        "status": getattr(err, "status", None),
        "content": getattr(err, "content", None),
    }


def attempt(fn, *args, **kwargs):
    """Calls fn; an exception becomes {"error": ...} instead of a raise."""
    try:
        return {"ok": fn(*args, **kwargs)}
    except Exception as err:  # noqa: BLE001 - the test inspects it
        return {"error": describe(err)}


def main(body):
    """Runs body() and prints its result as JSON; an unexpected error exits 1."""
    try:
        out = body()
    except Exception as err:  # noqa: BLE001
        traceback.print_exc()
        print(json.dumps(describe(err), default=str), file=sys.stderr)
        sys.exit(1)
    print(json.dumps(out, default=str))
