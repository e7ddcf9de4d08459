# Loaded by schemathesis for the openapi_schemathesis_* suite (tests/e2e/openapi.rs).
import json
import os

import schemathesis

# A connector upload is raw bytes, sent as they are.
schemathesis.serializer.alias("application/wasm", "application/octet-stream")

# The signed-in pass: the admin page's session cookie and its CSRF token, as the server last set them.
# repbook starts a new session id and CSRF token whenever a person's factors change (so a stolen cookie
# dies with the change); a credential fixed at the start would be dead after the first such request.
COOKIE = "repbook_session"
if os.environ.get("REPBOOK_FUZZ_SESSION"):
    current = {"cookie": os.environ["REPBOOK_FUZZ_SESSION"], "csrf": os.environ["REPBOOK_FUZZ_CSRF"]}

    @schemathesis.auth(refresh_interval=None)
    class FollowedSession:
        def get(self, case, context):
            return dict(current)

        def set(self, case, data, context):
            case.cookies = {**(case.cookies or {}), COOKIE: data["cookie"]}
            if case.method.upper() not in ("GET", "HEAD"):
                case.headers = {**(case.headers or {}), "X-CSRF-Token": data["csrf"]}

    @schemathesis.hook
    def after_call(context, case, response):
        for header in response.headers.get("set-cookie", []):
            name, _, rest = header.partition("=")
            value = rest.split(";", 1)[0]
            if name.strip() == COOKIE and value:
                current["cookie"] = value
        try:
            body = json.loads(response.content)
        except ValueError:
            return
        if isinstance(body, dict):
            token = body.get("csrf_token") or (body.get("session") or {}).get("csrf_token")
            if isinstance(token, str) and token:
                current["csrf"] = token
