#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "compare_api.settings")
    if sys.argv[1:2] != ["runserver"]:
        # Commands (migrate, seed --scale, recount_votes) may run long; only a process that
        # serves requests gets the database's request timeouts (compare_api/settings.py).
        os.environ.setdefault("DB_REQUEST_TIMEOUTS", "0")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
