"""Copies the certificate authorities this machine trusts beyond Debian's
own set (those in /etc/ssl/certs/ca-certificates.crt that no file under
/usr/share/ca-certificates holds: a local or proxy CA) into DIR, one
`host-ca-N.crt` each, and prints how many.

    python3 scripts/lib/host_ca_certs.py DIR

scripts/lib/docker-images.sh puts them into a stand-in Debian base image at
/usr/local/share/ca-certificates/, so that an image built on it trusts what
the machine building it trusts once `ca-certificates` is installed there (a
network whose egress proxy re-signs TLS, e.g. to crates.io). Official images
pulled from a registry are left as they are.
"""

import glob
import os
import re
import sys

BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
PEM = re.compile(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", re.S)


def pems(text):
    return PEM.findall(text)


def key(pem):
    return "".join(pem.split())


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    if not os.path.exists(BUNDLE):
        print(0)
        return
    shipped = set()
    for path in glob.glob("/usr/share/ca-certificates/**/*.crt", recursive=True):
        with open(path, encoding="ascii", errors="replace") as f:
            shipped.update(key(p) for p in pems(f.read()))
    with open(BUNDLE, encoding="ascii", errors="replace") as f:
        extra = [p for p in pems(f.read()) if key(p) not in shipped]
    os.makedirs(out, exist_ok=True)
    for n, pem in enumerate(extra, 1):
        with open(os.path.join(out, f"host-ca-{n}.crt"), "w", encoding="ascii") as f:
            f.write(pem + "\n")
    print(len(extra))


if __name__ == "__main__":
    main()
