"""Runs past one machine: jobs on a Celery queue, site workers, a shared history.

`pyengine submit` splits an inventory into jobs (jobs.py) and puts them on the broker
(queue.py); `pyengine worker` runs them with the same engine as `pyengine run`, holding a
lease on each host in the history database while it works (the history's
`claim_job`/`renew_leases`, kept alive by lease.py), and the submitter combines the
reports (recap.py). Celery and its broker client are imported only here, only when these
commands run: a single machine never needs them.
"""
