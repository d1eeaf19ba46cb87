"""Entry point of the `shoebox` command (being written)."""


def main() -> int:
    raise SystemExit("shoebox CLI: not implemented yet")
