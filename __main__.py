"""``python -m mclnn``: the ``mclnn`` command."""

from mclnn.cli import main

main()
