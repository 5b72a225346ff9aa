"""Which Debian release each lab host runs: the `--release` argument and its host assignment.

A mixed fleet is the normal case for the clients pyengine serves, so a lab can hold
Debian 11, 12 and 13 hosts at once. The argument names releases by codename, version
number or `debianNN`; a plain list assigns them round-robin (h1 the first, h2 the second,
...) and `name=count` entries give consecutive blocks whose counts may set the host count.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyengine.errors import LabError

# codename -> Debian version number; the order is oldest first.
RELEASES: dict[str, str] = {"bullseye": "11", "bookworm": "12", "trixie": "13"}
DEFAULT_RELEASE = "bookworm"

RELEASE_HELP = (
    "Debian release of the hosts: bullseye, bookworm or trixie (also 11, 12, 13 or "
    "debian11...). A comma list assigns releases round-robin (bullseye,bookworm,trixie: "
    "h1 bullseye, h2 bookworm, h3 trixie, h4 bullseye, ...); NAME=COUNT entries give "
    "consecutive blocks (bookworm=2,trixie=1: h1-h2 bookworm, h3 trixie) and set -n "
    "when it is not given. The inventory also groups hosts by release (release_debian11, "
    "release_debian12, release_debian13); a release's image is built once per machine "
    "(debootstrap, 1.5-4 minutes)."
)


@dataclass(frozen=True)
class ReleaseSpec:
    """A parsed `--release`: round-robin names, or (name, count) blocks."""

    names: tuple[str, ...]
    counts: tuple[int, ...] = ()  # empty: round-robin over `names`

    @property
    def total(self) -> int | None:
        """The host count the blocks ask for (None for round-robin)."""
        return sum(self.counts) if self.counts else None


def canonical_release(word: str) -> str:
    """'trixie', '13', 'debian13' and 'Debian13' all mean trixie."""
    key = word.strip().lower()
    if key.startswith("debian"):
        key = key[len("debian"):]
    for name, version in RELEASES.items():
        if key in (name, version):
            return name
    raise LabError(f"unknown Debian release {word.strip()!r}: use one of "
                   f"{', '.join(f'{n} ({v})' for n, v in RELEASES.items())}")


def parse_release_spec(text: str) -> ReleaseSpec:
    """Parse `bookworm`, `bullseye,trixie` or `bookworm=2,trixie=1` (not both forms at once)."""
    parts = [p.strip() for p in text.split(",")]
    if not text.strip() or any(not p for p in parts):
        raise LabError(f"invalid --release {text!r}: an empty release name")
    blocks = [p for p in parts if "=" in p]
    if blocks and len(blocks) != len(parts):
        raise LabError(f"invalid --release {text!r}: give every release a count "
                       "(bookworm=2,trixie=1) or none (bookworm,trixie)")
    if not blocks:
        return ReleaseSpec(tuple(canonical_release(p) for p in parts))
    names: list[str] = []
    counts: list[int] = []
    for part in parts:
        word, _, number = part.partition("=")
        name = canonical_release(word)
        try:
            count = int(number)
        except ValueError:
            raise LabError(f"invalid --release {text!r}: {number.strip()!r} is not a host "
                           "count") from None
        if count < 1:
            raise LabError(f"invalid --release {text!r}: {name} needs at least 1 host")
        if name in names:
            raise LabError(f"invalid --release {text!r}: {name} is given twice")
        names.append(name)
        counts.append(count)
    return ReleaseSpec(tuple(names), tuple(counts))


def assign_releases(spec: ReleaseSpec, count: int) -> tuple[str, ...]:
    """The release of h1..h<count>, in order."""
    if not spec.counts:
        return tuple(spec.names[i % len(spec.names)] for i in range(count))
    if spec.total != count:
        raise LabError(f"--release asks for {spec.total} hosts but -n is {count}: "
                       "make them agree or leave -n out")
    out: list[str] = []
    for name, n in zip(spec.names, spec.counts, strict=True):
        out.extend([name] * n)
    return tuple(out)


def release_group(release: str) -> str:
    """The inventory group of a release's hosts: release_debian11, _debian12, _debian13.

    A host's first group in alphabetical order names its backup folder and its client in
    reports: `lab` must stay first, so these names sort after it."""
    return f"release_debian{RELEASES[release]}"
