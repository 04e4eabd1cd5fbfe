"""``python -m nhiwatch.cli`` runs the command line (used by tests that need a fresh process)."""

from nhiwatch.cli import main

main()
