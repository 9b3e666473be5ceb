"""`python -m sketchtool` runs the CLI."""

from sketchtool.cli import main

main()
