"""Scheduling the nightly job: a systemd timer + service, or a cron entry without systemd."""
