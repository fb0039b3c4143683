import os
import sys

# `python -m grader` puts the current folder first on sys.path; run inside a learner's project,
# its own secrets.py or json.py would then shadow the modules the grader imports. Drop it before
# anything else is imported, unless it is the course itself (grader/ and llmsim/ live there).
_course = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_cwd = os.getcwd()
sys.path[:] = [p for p in sys.path
               if os.path.abspath(p or os.curdir) != _cwd or os.path.abspath(p or os.curdir) == _course]

from grader.cli import main  # noqa: E402 - after the path is cleaned

sys.exit(main())
