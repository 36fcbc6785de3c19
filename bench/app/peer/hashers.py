"""Django's bcrypt_sha256 hasher at the work factor in BCRYPT_COST (4..31, default 12).

The stock hasher fixes the cost at 12; the benchmark runs both servers at the
same cost, whatever it is. The algorithm name stays ``bcrypt_sha256``, so the
hashes are those of a stock project. Django re-hashes a password at login when
its stored cost differs from ``rounds``: seed_users re-hashes the bench users
up front so that no measured login pays for it.
"""
import os

from django.contrib.auth.hashers import BCryptSHA256PasswordHasher
from django.core.exceptions import ImproperlyConfigured


def cost_from_env():
    raw = os.environ.get("BCRYPT_COST", "12")
    try:
        cost = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"BCRYPT_COST must be an integer, got {raw!r}") from None
    if not 4 <= cost <= 31:
        raise ImproperlyConfigured(f"BCRYPT_COST must be within 4..31, got {cost}")
    return cost


class EnvCostBCryptSHA256PasswordHasher(BCryptSHA256PasswordHasher):
    rounds = cost_from_env()
