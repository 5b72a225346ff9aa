"""How long masking takes with many secrets and long outputs (not a test: prints numbers).

    .venv/bin/python bench/bench_masking.py [SECRETS] [MEGABYTES]

Compares the trie regex pyengine uses with the plain alternation of every form,
which backtracks through every alternative at every position.
"""

from __future__ import annotations

import re
import secrets
import sys
import time

from pyengine import masking


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    megabytes = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0
    values = [secrets.token_urlsafe(12) for _ in range(count)]
    line = "ok: [web1] => changed=false msg='line already present' path=/etc/ssh/sshd_config\n"
    text = line * int(megabytes * 1e6 / len(line)) + values[-1]

    masking.clear_secrets()
    started = time.perf_counter()
    masking.register_secrets(values)
    masking.mask_text("warm up: builds the pattern")
    built = time.perf_counter() - started

    started = time.perf_counter()
    masked = masking.mask_text(text)
    scanned = time.perf_counter() - started
    assert values[-1] not in masked

    print(f"{count} secrets, {len(text) / 1e6:.1f} MB of output")
    print(f"  build pattern: {built * 1000:8.1f} ms")
    print(f"  trie regex:    {scanned * 1000:8.1f} ms")
    if count <= 2000:
        forms = sorted({f for v in values for f in masking.forms(v)}, key=len, reverse=True)
        naive = re.compile("|".join(re.escape(f) for f in forms))
        started = time.perf_counter()
        naive.sub(masking.MASK, text[:100_000])
        per_mb = (time.perf_counter() - started) * 10
        print(f"  alternation:   {per_mb * 1000 * megabytes:8.1f} ms (extrapolated from 0.1 MB)")


if __name__ == "__main__":
    main()
