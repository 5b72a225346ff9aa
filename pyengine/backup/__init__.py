"""Configuration backup into git: collected host files, one commit per run, drift, restore."""
