"""``python -m jacstab``: the ``jacstab`` command line."""

from jacstab.cli import main

main()
