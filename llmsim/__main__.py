"""``python -m llmsim`` is the ``llmsim`` command."""

from .cli import main

raise SystemExit(main())
