"""``python -m brevdue_cli``: the same as the ``brevdue`` command."""

from brevdue_cli.main import main

raise SystemExit(main())
