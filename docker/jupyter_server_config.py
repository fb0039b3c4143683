"""Jupyter server settings for the course's JupyterLab: in the learner image and under `make lab`.

The image copies this file to /etc/jupyter/, so a plain `jupyter lab` in the container uses it;
`python -m grader.lab` (the image's command and what `make lab` runs) loads it with `--config`
and passes its per-run choices (address, port, lessons folder) on the command line, which win.
Everything comes from the environment, with the container's defaults:

  LAB_IP          address to listen on (0.0.0.0 in the container; `make lab` uses 127.0.0.1)
  LAB_PORT        port (8888)
  LAB_TOKEN       access token (or JUPYTER_TOKEN); unset: a random one, printed in the URL
  LAB_LESSONS_DIR the folder JupyterLab opens (default: $COURSE_ROOT/lessons)
"""

import os

c = get_config()  # noqa: F821 -- provided by Jupyter when it loads this file

c.ServerApp.ip = os.environ.get("LAB_IP", "0.0.0.0")
c.ServerApp.port = int(os.environ.get("LAB_PORT", "8888"))
c.ServerApp.port_retries = 0  # a busy port is an error that says so, not a silent other port
c.ServerApp.open_browser = False
c.ServerApp.root_dir = os.environ.get("LAB_LESSONS_DIR") or os.path.join(
    os.environ.get("COURSE_ROOT", "/course"), "lessons"
)

_token = os.environ.get("LAB_TOKEN") or os.environ.get("JUPYTER_TOKEN")
if _token:
    c.IdentityProvider.token = _token

# jupyter-server-proxy: an app a notebook starts on port P is at {base_url}proxy/P/ in the
# learner's browser (in the container too, where P is not published). FastAPI apps must be
# told that prefix as their root path for /docs to work: grader.lesson.serve() does it.
c.ServerApp.jpserver_extensions.update({"jupyter_server_proxy": True})


# Offline by default: no news feed, no update check, no extension installs from PyPI.
c.LabApp.news_url = None
c.LabApp.check_for_updates_class = "jupyterlab.NeverCheckForUpdate"
c.LabApp.extension_manager = "readonly"
# ...and no "get notified about Jupyter news?" prompt (JupyterLab settings overrides).
_settings = os.path.join(os.environ.get("COURSE_ROOT", "/course"), "docker", "lab-settings")
if os.path.isdir(_settings):
    c.LabApp.app_settings_dir = _settings
