"""Create the bench users PREFIX0..PREFIX{N-1} and keep their hashes at BCRYPT_COST.

Idempotent: missing users are created, and a user whose stored hash was made by
another hasher or at another cost is re-hashed now, not at its first measured
login (Django would do it then, and the login scenario would pay for it). When
the password changed, every existing user is re-hashed (one sample is checked).

The users share one hash (one salt), so seeding costs one bcrypt computation
instead of N; checking a password costs the same whatever its salt.
"""
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import check_password, get_hasher, identify_hasher, make_password
from django.core.management.base import BaseCommand
from django.db import transaction


class Command(BaseCommand):
    help = "Create or re-hash the bench users."

    def add_arguments(self, parser):
        parser.add_argument("--count", type=int, default=100)
        parser.add_argument("--prefix", default="bench")
        parser.add_argument("--password", default="correct horse battery staple")

    def handle(self, *args, count, prefix, password, **options):
        users = get_user_model()
        hasher = get_hasher("default")
        names = [f"{prefix}{i}" for i in range(count)]
        shared_hash = None

        def bench_hash():
            nonlocal shared_hash
            if shared_hash is None:
                shared_hash = make_password(password)
            return shared_hash

        def stale(encoded):
            try:
                return identify_hasher(encoded).algorithm != hasher.algorithm or hasher.must_update(encoded)
            except ValueError:
                return True

        with transaction.atomic():
            existing = {u.username: u for u in users.objects.filter(username__in=names)}
            created = [users(username=n, password=bench_hash()) for n in names if n not in existing]
            users.objects.bulk_create(created, batch_size=500)
            sample = next(iter(existing.values()), None)
            new_password = sample is not None and not check_password(password, sample.password)
            rehashed = [u for u in existing.values() if new_password or stale(u.password)]
            for user in rehashed:
                user.password = bench_hash()
            users.objects.bulk_update(rehashed, ["password"], batch_size=500)

        self.stdout.write(
            f"bench users {prefix}0..{prefix}{count - 1}: {len(created)} created, {len(rehashed)} re-hashed "
            f"({hasher.algorithm}, cost {hasher.rounds})"
        )
