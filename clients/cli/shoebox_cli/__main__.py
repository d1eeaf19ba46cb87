"""`python -m shoebox_cli`: the same as the `shoebox` command."""

from shoebox_cli.main import main

raise SystemExit(main())
