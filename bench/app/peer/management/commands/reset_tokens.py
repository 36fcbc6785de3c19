"""Empty simplejwt's token tables (outstanding and blacklisted tokens).

Every login and refresh adds rows; bench/start.sh empties them so that every
run starts from the same database.
"""
from django.core.management.base import BaseCommand
from django.db import connection, transaction
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken


class Command(BaseCommand):
    help = "Delete every outstanding and blacklisted token."

    def handle(self, *args, **options):
        tables = [BlacklistedToken._meta.db_table, OutstandingToken._meta.db_table]
        removed = []
        # Plain DELETEs, children first: the ORM's cascade would load every row.
        with transaction.atomic(), connection.cursor() as cursor:
            for table in tables:
                cursor.execute(f"DELETE FROM {connection.ops.quote_name(table)}")
                removed.append(cursor.rowcount)
        if connection.vendor == "sqlite" and any(removed):
            with connection.cursor() as cursor:
                cursor.execute("VACUUM")
        self.stdout.write(f"token tables emptied ({removed[1]} outstanding, {removed[0]} blacklisted)")
