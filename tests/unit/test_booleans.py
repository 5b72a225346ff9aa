"""One set of boolean words for keywords, module arguments, the `bool` filter and settings."""

from __future__ import annotations

import pytest

from pyengine.booleans import boolean_word, is_true
from pyengine.modspec import convert
from pyengine.templating.filters import to_bool


@pytest.mark.parametrize("word", ["y", "YES", " on ", "1", "True", "t", True, 1])
def test_true_words_read_true_everywhere(word: object) -> None:
    assert boolean_word(word) is True
    assert is_true(word) and to_bool(word)
    assert convert(word, "bool") is True


@pytest.mark.parametrize("word", ["n", "No", "off", "0", "FALSE", "f", False, 0])
def test_false_words_read_false_everywhere(word: object) -> None:
    assert boolean_word(word) is False
    assert not is_true(word) and not to_bool(word)
    assert convert(word, "bool") is False


@pytest.mark.parametrize("word", ["maybe", "", "2", 2, None, "1.5"])
def test_other_values_are_no_boolean_word(word: object) -> None:
    assert boolean_word(word) is None
    assert not to_bool(word)  # the lenient filter calls them false
