"""Controller side of patch management: `pyengine patch status` (pending updates per host).

The work on hosts is the `patch` module (modules/patch.py); the rollout is the built-in
playbook playbooks/patch.yml. This package only asks hosts and reports.
"""
