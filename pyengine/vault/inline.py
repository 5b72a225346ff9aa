"""Inline vault values: the `!vault |` YAML block that encrypt-string prints.

The layout is ansible-vault's (a literal block, 10 spaces of indent) so output
pasted from either tool looks the same in a vars file.
"""

from __future__ import annotations

INDENT = 10


def format_yaml_value(vaulttext: str, name: str | None = None, indent: int = INDENT) -> str:
    """`name: !vault |` followed by the vault text, indented (no trailing newline)."""
    head = f"{name}: !vault |" if name else "!vault |"
    return "\n".join([head, *(" " * indent + line for line in vaulttext.splitlines())])
