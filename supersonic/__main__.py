"""`python -m supersonic` is the `supersonic` command."""

from supersonic.launch.cli import main

main()
