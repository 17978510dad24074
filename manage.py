#!/usr/bin/env python
import os
import sys


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "luna_site.settings")
    from django.core.management import execute_from_command_line

    from luna_site import embedded

    # Every command (runserver, migrate, demo_data, dbshell, …) finds the embedded servers running.
    embedded.start_services()
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
