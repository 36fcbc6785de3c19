"""Write a `dumpdata auth.user` file of N users (default 100,000), every one
with the same Django PBKDF2 hash (the import never hashes, so one is as good
as any): the input of scripts/bench-import.sh.

    python3 bench/import/make_dump.py OUT.json [N]
"""

import json
import sys

HASH = "pbkdf2_sha256$870000$rnzqnTpk31tn3KjgMLkPMh$Cw3yi005O9vBZCtaw1xM6t0NSVEhIEnkAex3uDNcR4A="


def main():
    out, n = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 100_000
    with open(out, "w") as f:
        f.write("[\n")
        for i in range(1, n + 1):
            record = {
                "model": "auth.user",
                "pk": i,
                "fields": {
                    "password": HASH,
                    "last_login": "2025-01-02T03:04:05.678Z",
                    "is_superuser": False,
                    "username": f"user{i}",
                    "first_name": "",
                    "last_name": "",
                    "email": f"user{i}@example.com",
                    "is_staff": False,
                    "is_active": True,
                    "date_joined": "2024-05-01T10:20:30.123Z",
                    "groups": [],
                    "user_permissions": [],
                },
            }
            f.write(("," if i > 1 else "") + json.dumps(record) + "\n")
        f.write("]\n")


if __name__ == "__main__":
    main()
