"""Warm connections (`run --persist 5m`), like OpenSSH's ControlPersist.

A small local process per user, the *owner* (owner.py), holds the SSH transports and
the started agents of persisting runs; a run reaches them through the owner's unix
socket (client.py) and the owner relays the bytes, so the next run to the same host
with the same connection settings skips the TCP/SSH handshake and the agent start.
When an entry's time is up the owner tells its agent to exit (the agent leaves nothing
on the target) and closes the transport; with no entry left the owner exits.
"""
