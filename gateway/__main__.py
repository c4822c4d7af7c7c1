"""`python -m gateway …` is the same as the `statuspal-mcp …` console script."""

from gateway.cli import main

raise SystemExit(main())
