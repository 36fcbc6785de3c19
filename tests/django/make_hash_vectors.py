"""Write crates/django-hashes/tests/fixtures/django_hashes.json: passwords hashed by
Django's own hashers (each at Django's default work factors), so that the
Rust side is checked against what Django writes, not against our reading of
its source. Run with the venv of scripts/django-test.sh:

    target/django-venv/bin/python tests/django/make_hash_vectors.py
"""

import json
import pathlib

import django
from django.conf import settings

HASHERS = {
    "pbkdf2_sha256": "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "pbkdf2_sha1": "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "argon2id": "django.contrib.auth.hashers.Argon2PasswordHasher",
    "bcrypt_sha256": "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
    "bcrypt": "django.contrib.auth.hashers.BCryptPasswordHasher",
    "scrypt": "django.contrib.auth.hashers.ScryptPasswordHasher",
    "md5": "django.contrib.auth.hashers.MD5PasswordHasher",
}

settings.configure(PASSWORD_HASHERS=list(HASHERS.values()))
django.setup()

from django.contrib.auth.hashers import make_password  # noqa: E402

# Over 72 bytes: bcrypt would read only a prefix of it.
LONG = "the quick brown fox jumps over the lazy dog, " * 3
PASSWORDS = ["correct horse battery staple", "pâsswörd ✓ ﬁle", LONG]


def main():
    vectors = []
    for name, path in HASHERS.items():
        for password in PASSWORDS:
            if name == "bcrypt" and len(password.encode()) > 72:
                continue  # the bcrypt module refuses it since 5.0
            vectors.append(
                {"format": name, "password": password, "encoded": make_password(password, hasher=name.replace("argon2id", "argon2"))}
            )
    # argon2i, Django's argon2 variant before 3.2 (still verified by it).
    from argon2 import PasswordHasher, Type

    legacy = PasswordHasher(time_cost=2, memory_cost=512, parallelism=2, type=Type.I)
    vectors.append(
        {"format": "argon2i", "password": PASSWORDS[0], "encoded": "argon2" + legacy.hash(PASSWORDS[0])}
    )
    out = pathlib.Path(__file__).resolve().parents[2] / "crates/django-hashes/tests/fixtures/django_hashes.json"
    out.write_text(json.dumps({"django": django.get_version(), "vectors": vectors}, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {len(vectors)} vectors to {out}")


if __name__ == "__main__":
    main()
