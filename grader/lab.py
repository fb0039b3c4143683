"""``make lab``: JupyterLab on lessons/ with the provider simulator running.

Every kernel inherits the environment set here, so the real SDKs in the notebooks and in the
projects talk to llmsim, unless a real key for that provider is configured (in the
environment or in ``.env`` at the course root), which then wins for that provider.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from grader.targets import course_root

PROVIDERS = {
    # provider: (key variable, base-URL variable, suffix of the simulator's URL)
    "anthropic": ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", ""),
    "openai": ("OPENAI_API_KEY", "OPENAI_BASE_URL", "/v1"),
    "openrouter": ("OPENROUTER_API_KEY", "OPENROUTER_API_BASE", "/api/v1"),
}


def read_dotenv(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    from dotenv import dotenv_values

    return {k: v for k, v in dotenv_values(path).items() if v}


def lab_env(sim_url: str, base: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """The kernels' environment, and one line per provider saying where it points."""
    env = dict(base)
    said = []
    for name, (key_var, url_var, suffix) in PROVIDERS.items():
        if env.get(key_var) and not env[key_var].startswith("sk-llmsim"):
            said.append(f"{name}: real key configured, using the real provider")
            continue
        env[key_var] = f"sk-llmsim-{name}-offline"
        env[url_var] = sim_url + suffix
        said.append(f"{name}: llmsim at {sim_url + suffix}")
    env.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    env["LLMSIM_URL"] = sim_url
    return env, said


def main() -> int:
    import llmsim

    root = course_root()
    port = int(os.environ.get("LAB_PORT", "8888"))
    sim_port = int(os.environ.get("LLMSIM_PORT", "0"))
    base = {**read_dotenv(root / ".env"), **os.environ}
    with llmsim.running(host="127.0.0.1", port=sim_port) as sim:
        env, said = lab_env(sim.url, base)
        print("llmsim (the offline LLM provider simulator) is running at", sim.url)
        for line in said:
            print("  ", line)
        argv = [
            sys.executable, "-m", "jupyter", "lab",
            f"--notebook-dir={root / 'lessons'}",
            f"--port={port}",
            "--no-browser",
            "--ServerApp.ip=" + os.environ.get("LAB_IP", "127.0.0.1"),
        ]
        proc = subprocess.Popen(argv, env=env, cwd=root)
        try:
            return proc.wait()
        except KeyboardInterrupt:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
            print("\nstopped JupyterLab and llmsim")
            return 0


if __name__ == "__main__":
    sys.exit(main())
