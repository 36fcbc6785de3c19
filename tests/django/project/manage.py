#!/usr/bin/env python
"""The Django project of the black-box test (tests/django/run.py): only
django.contrib.auth, its database in $DJANGO_DB."""
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "djangoproject.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
