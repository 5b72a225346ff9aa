"""pyengine: Ansible-style hardening, patching and config-backup automation."""

__version__ = "0.1.0"
