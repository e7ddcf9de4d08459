"""A real SMTP server for the mail suites (aiosmtpd, not repbook's code): STARTTLS with the given
certificate, AUTH PLAIN/LOGIN for one user, and every accepted message saved as NNNNNN.eml in a folder, in
the order it arrived. A control file (JSON), read at each step, makes it misbehave on purpose:

  {"mode": "ok"}                     accept (the default)
  {"mode": "tempfail"}               451 4.3.0 at DATA (try later)
  {"mode": "busy"}                   421 4.7.0 at DATA and close (service not available)
  {"mode": "reject"}                 550 5.7.1 at DATA (refused for good)
  {"mode": "hang"}                   accept the connection, then never answer DATA
  {"mode": "slow", "delay": 2.0}     accept, after `delay` seconds
  {"reject_to": ["x@example.test"]}  550 5.1.1 at RCPT for these addresses, whatever the mode

usage: smtp_server.py --port P --dir DIR --control FILE [--cert C --key K [--implicit-tls]]
                      [--user U --password P]
It prints "ready" once it listens.
"""

import argparse
import asyncio
import json
import os
import ssl
import sys
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def control(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return {}


class Handler:
    def __init__(self, folder, control_file):
        self.folder = folder
        self.control_file = control_file
        self.count = len([n for n in os.listdir(folder) if n.endswith(".eml")])

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in [a.lower() for a in control(self.control_file).get("reject_to", [])]:
            return "550 5.1.1 <%s>: Recipient address rejected: User unknown" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        settings = control(self.control_file)
        mode = settings.get("mode", "ok")
        if mode == "tempfail":
            return "451 4.3.0 Temporary lookup failure, try again later"
        if mode == "busy":
            return "421 4.7.0 Service not available, closing transmission channel"
        if mode == "reject":
            return "550 5.7.1 Message rejected by policy"
        if mode == "hang":
            await asyncio.sleep(3600)
        if mode == "slow":
            await asyncio.sleep(float(settings.get("delay", 2.0)))
        self.count += 1
        name = os.path.join(self.folder, "%06d.eml" % self.count)
        partial = name + ".partial"
        with open(partial, "wb") as handle:
            handle.write(envelope.original_content or envelope.content)
        os.rename(partial, name)
        with open(os.path.join(self.folder, "envelopes.log"), "a", encoding="utf-8") as log:
            log.write(json.dumps({"file": os.path.basename(name), "from": envelope.mail_from,
                                  "to": envelope.rcpt_tos, "at": time.time()}) + "\n")
        return "250 2.0.0 Ok: queued as %06d" % self.count


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dir", required=True)
    parser.add_argument("--control", required=True)
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--implicit-tls", action="store_true")
    parser.add_argument("--user")
    parser.add_argument("--password")
    args = parser.parse_args()
    os.makedirs(args.dir, exist_ok=True)

    context = None
    if args.cert:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.cert, args.key)

    def authenticate(server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword) and auth_data.login.decode() == args.user
              and auth_data.password.decode() == args.password)
        return AuthResult(success=ok, handled=False)

    kwargs = {}
    if args.user:
        kwargs.update(authenticator=authenticate, auth_required=True,
                      auth_require_tls=context is not None and not args.implicit_tls)
    if context is not None and not args.implicit_tls:
        kwargs.update(tls_context=context, require_starttls=True)
    controller = Controller(
        Handler(args.dir, args.control),
        hostname="127.0.0.1",
        port=args.port,
        ssl_context=context if args.implicit_tls else None,
        server_hostname="localhost",
        **kwargs,
    )
    controller.start()
    print("ready", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        controller.stop()


if __name__ == "__main__":
    sys.exit(main())
