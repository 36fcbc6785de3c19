#!/usr/bin/env python3
"""The status code of a GET, for machines without curl (scripts/lib/net.sh's
http_code uses curl when it is there). Standard library only.

    python3 tests/stack/http_status.py URL [MAX_SECONDS]

Prints the status (404 and 503 included), or 000 when nothing answers in
MAX_SECONDS (default 3), as `curl -w '%{http_code}'` does; no newline.
"""

import sys
import urllib.error
import urllib.request


def status_of(url, timeout):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return f"{resp.status:03d}"
    except urllib.error.HTTPError as e:
        return f"{e.code:03d}"
    except Exception:  # noqa: BLE001 - refused, reset, timeout, bad URL: nothing answered
        return "000"


def main(argv):
    if len(argv) not in (2, 3):
        print("usage: http_status.py URL [MAX_SECONDS]", file=sys.stderr)
        return 2
    try:
        timeout = float(argv[2]) if len(argv) == 3 else 3.0
    except ValueError:
        print(f"http_status: MAX_SECONDS must be a number, got {argv[2]!r}", file=sys.stderr)
        return 2
    print(status_of(argv[1], timeout), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
