"""Every click command of `pyengine`, one module per command (`main.py` holds the group).

This is the top layer: the only package that wires the layers below together (inventory,
vault, executor, report, history, ...) or knows the lab. Nothing below imports from here;
tests/unit/test_layers.py enforces it.
"""
