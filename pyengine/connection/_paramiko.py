"""paramiko, imported without `invoke`.

paramiko.config tries `import invoke` (for `Match exec` in an ssh_config file); when
invoke is installed (Fabric brings it) that import pulls in unittest.mock and asyncio:
130 ms of the 260 ms paramiko took to import on the development machine (`python -X
importtime`), paid by every run before its first handshake. pyengine never reads an
ssh_config through paramiko, so invoke is hidden while paramiko loads, and only then.
"""

from __future__ import annotations

import sys

_hide = "invoke" not in sys.modules
if _hide:
    sys.modules["invoke"] = None  # type: ignore[assignment]  # import raises ImportError
try:
    import paramiko
finally:
    if _hide and sys.modules.get("invoke", 0) is None:
        del sys.modules["invoke"]  # later importers of invoke get the real one

__all__ = ["paramiko"]
