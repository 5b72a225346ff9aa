"""`python -m pyengine` runs the CLI."""

from pyengine.commands.main import main

main()
