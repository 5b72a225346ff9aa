"""SSH keys of a lab: the client key engineers log in with and each host's own host keys.

Host keys are made per host at lab creation (so h1 and h2 differ, as real servers do)
and kept in the host's seed, so `lab reset` keeps them and known_hosts stays valid.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519


@dataclass(frozen=True)
class KeyPair:
    """An OpenSSH private key (PEM text) and its one-line public key."""

    kind: str  # the file-name part: "ed25519", "ecdsa"
    private: bytes
    public: str  # "ssh-ed25519 AAAA... comment"

    @property
    def public_type_and_blob(self) -> str:
        return " ".join(self.public.split()[:2])


def _pair(kind: str, key: ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey,
          comment: str) -> KeyPair:
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    ).decode()
    return KeyPair(kind, private, f"{public} {comment}".rstrip())


def new_ed25519(comment: str = "") -> KeyPair:
    return _pair("ed25519", ed25519.Ed25519PrivateKey.generate(), comment)


def new_ecdsa(comment: str = "") -> KeyPair:
    return _pair("ecdsa", ec.generate_private_key(ec.SECP256R1()), comment)


def new_host_keys(host: str) -> list[KeyPair]:
    """The host keys sshd offers: ed25519 and ECDSA P-256 (fast to make, both widely used)."""
    return [new_ed25519(f"root@{host}"), new_ecdsa(f"root@{host}")]


def known_hosts_lines(address: str, port: int, keys: list[KeyPair]) -> list[str]:
    """known_hosts lines for one host; OpenSSH writes `[addr]:port` only for a port other
    than 22."""
    target = address if port == 22 else f"[{address}]:{port}"
    return [f"{target} {key.public_type_and_blob}" for key in keys]
