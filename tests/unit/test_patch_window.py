"""Maintenance windows of the patch module, evaluated on the host's clock."""

from __future__ import annotations

import datetime

import pytest
from test_patch_parsers import patch

# 2026-11-28 is a Saturday.
SAT = datetime.date(2026, 11, 28)


def at(day_offset: int, hhmm: str) -> datetime.datetime:
    h, m = map(int, hhmm.split(":"))
    return datetime.datetime.combine(SAT + datetime.timedelta(days=day_offset),
                                     datetime.time(h, m))


@pytest.mark.parametrize("window,when,inside", [
    ("Sat 02:00-05:00", at(0, "02:00"), True),
    ("Sat 02:00-05:00", at(0, "04:59"), True),
    ("Sat 02:00-05:00", at(0, "05:00"), False),
    ("Sat 02:00-05:00", at(0, "01:59"), False),
    ("Sat 02:00-05:00", at(1, "03:00"), False),  # Sunday
    ("Sat,Sun 02:00-05:00", at(1, "03:00"), True),
    ("Mon-Fri 22:00-04:00", at(-1, "23:30"), True),  # Friday night
    ("Mon-Fri 22:00-04:00", at(0, "03:00"), True),  # Saturday early: Friday's window
    ("Mon-Fri 22:00-04:00", at(0, "23:00"), False),  # Saturday night
    ("Mon-Fri 22:00-04:00", at(2, "01:00"), False),  # Monday 01:00: Sunday had none
    ("Fri-Mon 01:00-02:00", at(2, "01:30"), True),  # range wrapping over the week end
    ("Fri-Mon 01:00-02:00", at(3, "01:30"), False),  # Tuesday
    ("daily 01:00-03:00", at(4, "02:00"), True),
    ("01:00-03:00", at(4, "03:00"), False),
    ("Sun 01:00-02:00; saturday 10:00-11:00", at(0, "10:15"), True),
])
def test_in_window(window, when, inside):
    assert patch.in_windows(patch.parse_windows(window), when) is inside


@pytest.mark.parametrize("bad", ["Sat", "Sat 2-5", "Funday 02:00-03:00", "Sat 25:00-26:00",
                                 "Sat 02:00-02:00", ""])
def test_bad_windows_are_refused(bad):
    with pytest.raises(ValueError):
        patch.parse_windows(bad)
