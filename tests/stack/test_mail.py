#!/usr/bin/env python3
"""Mail through the stack: the replicas' senders deliver to a real SMTP server
(test-support's smtp-sink, started by scripts/stack-test.sh), and a replica
killed in the middle of a send loses no message and leaves none delivered
twice to a mailbox that, like Gmail's, keeps one message per Message-ID.

    STACK_DIR=... MAIL_SINK_DIR=... python3 tests/stack/test_mail.py

The stack must run with AUTH_SMTP_URL pointing at the sink,
AUTH_PASSWORD_RESET_URL=https://app.example.com/reset/{uid}/{token},
AUTH_EMAIL_VERIFICATION=optional and
AUTH_EMAIL_VERIFY_URL=https://app.example.com/verify/{key}. While the file
MAIL_SINK_DIR/hold exists the sink keeps each message but holds its reply
to the end of DATA: the sender is then mid-send, its message delivered but not
acknowledged. Standard library only.
"""

import collections
import email
import email.policy
import os
import re
import sys
import time
import traceback

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from stacklib import PASSWORD, Stack, TestFailure, check, log, one, wait_until  # noqa: E402

RESET = "https://app.example.com/reset/"
VERIFY = "https://app.example.com/verify/"


class Mailbox:
    """The sink's directory: every message the SMTP server accepted, in order."""

    def __init__(self, directory):
        self.dir = directory

    def raw(self):
        out = []
        for name in sorted(os.listdir(self.dir)):
            if name.endswith(".eml") and not name.startswith("."):
                with open(os.path.join(self.dir, name), "rb") as f:
                    out.append(parse(f.read()))
        return out

    def deduplicated(self):
        """One message per Message-ID, as a receiver that drops duplicates sees them."""
        seen = {}
        for m in self.raw():
            seen.setdefault(m["message_id"], m)
        return list(seen.values())

    def hold(self, on):
        path = os.path.join(self.dir, "hold")
        if on:
            open(path, "w").close()
        elif os.path.exists(path):
            os.remove(path)


def parse(data):
    msg = email.message_from_bytes(data, policy=email.policy.default)
    text = msg.get_body(preferencelist=("plain",)).get_content()
    link = re.search(r"https://app\.example\.com/\S+", text)
    return {
        "message_id": str(msg["Message-ID"]),
        "to": str(msg["To"]),
        "subject": str(msg["Subject"]),
        "link": link.group(0) if link else None,
    }


def mine(messages, address, prefix):
    return [m for m in messages if address in m["to"] and (m["link"] or "").startswith(prefix)]


def register(stack, username, address):
    r = one(stack, "POST", "/api/register/", {"username": username, "password": PASSWORD, "email": address})
    check(r.status == 201, f"register {username}: {r!r}")


def s_mail_kill_sender(stack, box):
    """A replica SIGKILLed mid-send: its message is taken over at once, none lost, none twice."""
    tag = f"m{os.getpid()}x{int(time.time()) % 100000}"
    users = [f"{tag}u{i}" for i in range(4)]
    addresses = {u: f"{u}@example.com" for u in users}
    for u in users:
        register(stack, u, addresses[u])
    # Every registration's verification link arrives, once.
    wait_until(
        lambda: all(len(mine(box.raw(), addresses[u], VERIFY)) == 1 for u in users),
        60, 0.2, "the verification links of the new users",
    )
    before = len(box.raw())

    box.hold(True)
    try:
        for u in users:
            r = one(stack, "POST", "/api/password/reset/", {"email": addresses[u]})
            check(r.status == 200, f"reset {u}: {r!r}")
        # Two senders (one per replica) each hold a message, kept but not acknowledged.
        wait_until(lambda: len(box.raw()) >= before + 2, 60, 0.1, "two senders mid-send")
        # On PostgreSQL a claim is invisible until its outcome commits: the
        # replicas' logs say which one is sending what.
        ids = stack.psql(
            "SELECT id FROM mail_outbox WHERE kind = 'password_reset'"
            f" AND user_id IN (SELECT id FROM users WHERE username LIKE '{tag}%')"
        ).split()
        victims = [
            n for n, text in stack.all_app_logs().items()
            for i in ids
            if f"outbox {i} (password_reset) for user" in text
            and re.search(rf"outbox {i} \(password_reset\) for user \d+: sending", text)
            and not re.search(rf"outbox {i} \(password_reset\) for user \d+: accepted", text)
        ]
        check(victims, f"no replica is mid-send (rows {ids})")
        victim = victims[0]
        held = box.raw()[before:]
        stack.ctl("kill-replica", str(victim))
        log(f"  {len(held)} messages held mid-send; SIGKILLed replica {victim}, one of the senders")
    finally:
        box.hold(False)
    t0 = time.monotonic()
    _, took = wait_until(
        lambda: all(mine(box.deduplicated(), addresses[u], RESET) for u in users)
        and stack.psql("SELECT count(*) FROM mail_outbox WHERE done_at IS NULL") == "0",
        60, 0.2, "every reset link delivered and the outbox empty",
    )
    stack.ctl("start-replica", str(victim))

    raw = box.raw()
    counts = collections.Counter(m["message_id"] for m in raw)
    twice = {mid: n for mid, n in counts.items() if n > 1}
    for u in users:
        got = mine(box.deduplicated(), addresses[u], RESET)
        check(len(got) == 1, f"{u}: {len(got)} reset messages in the mailbox")
    # A raw duplicate is only ever the killed sender's message, resent whole.
    check(len(twice) <= 1 and all(n == 2 for n in twice.values()), f"duplicates: {twice}")
    for mid in twice:
        copies = [m for m in raw if m["message_id"] == mid]
        check(all(c == copies[0] for c in copies), f"the copies of {mid} differ: {copies}")
    sent = int(stack.psql(
        "SELECT count(*) FROM mail_outbox WHERE outcome = 'sent'"
        f" AND user_id IN (SELECT id FROM users WHERE username LIKE '{tag}%')"
    ))
    check(sent == 2 * len(users), f"{sent} rows sent, expected {2 * len(users)}")
    log(
        f"  all {len(users)} reset messages delivered {took:.2f}s after the kill "
        f"({time.monotonic() - t0:.2f}s); raw duplicates by Message-ID: {len(twice)} "
        f"(the killed sender's, resent with the same Message-ID and link)"
    )

    # The links work through nginx: verify one address, reset one password.
    u = users[0]
    key = mine(box.raw(), addresses[u], VERIFY)[0]["link"][len(VERIFY):]
    r = one(stack, "POST", "/api/register/verify-email/", {"key": key})
    check(r.status == 200 and r.json == {"detail": "ok"}, f"verify-email: {r!r}")
    uid, token = mine(box.raw(), addresses[u], RESET)[0]["link"][len(RESET):].split("/", 1)
    new = "stack reset: a new passphrase"
    body = {"uid": uid, "token": token, "new_password1": new, "new_password2": new}
    r = one(stack, "POST", "/api/password/reset/confirm/", body)
    check(r.status == 200, f"reset confirm: {r!r}")
    r = one(stack, "POST", "/api/token/", {"username": u, "password": new})
    check(r.status == 200, f"login with the new password: {r!r}")
    r = one(stack, "POST", "/api/password/reset/confirm/", body)
    check(r.status == 400 and "token" in r.json.get("fields", {}), f"the used link again: {r!r}")


SCENARIOS = [("mail-kill-sender", s_mail_kill_sender)]


def main():
    stack_dir, sink_dir = os.environ.get("STACK_DIR"), os.environ.get("MAIL_SINK_DIR")
    if not stack_dir or not sink_dir:
        print("test_mail: set STACK_DIR and MAIL_SINK_DIR", file=sys.stderr)
        return 2
    stack, box = Stack(stack_dir), Mailbox(sink_dir)
    failed = False
    for name, fn in SCENARIOS:
        log(f"\n=== {name}: {fn.__doc__.strip()}")
        t = time.monotonic()
        try:
            fn(stack, box)
        except TestFailure as e:
            failed = True
            log(f"--- FAIL {name}: {e}")
        except Exception:  # noqa: BLE001
            failed = True
            log(f"--- ERROR {name}:\n{traceback.format_exc()}")
        else:
            log(f"--- ok {name} ({time.monotonic() - t:.1f}s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
