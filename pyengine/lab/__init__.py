"""Disposable Debian 11, 12 and 13 target hosts on this machine (`pyengine lab`).

Each host boots systemd as PID 1 in its own namespaces on an overlay of a cached
debootstrap image of its release (releases.py) and is reached at 127.0.<octet>.N:22.
See lab.py for the API.
"""

from __future__ import annotations

from pyengine.lab.config import LAB_PW_PASSWORD, LAB_PW_USER, LAB_USER
from pyengine.lab.lab import HostStatus, Lab, LabHost, LabStatus, default_inventory_path

__all__ = [
    "LAB_PW_PASSWORD",
    "LAB_PW_USER",
    "LAB_USER",
    "HostStatus",
    "Lab",
    "LabHost",
    "LabStatus",
    "default_inventory_path",
]
