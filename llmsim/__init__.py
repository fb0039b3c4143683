"""llmsim: an offline simulator of the Anthropic, OpenAI and OpenRouter APIs.

The real, unmodified SDKs talk to it. See README.md beside this file.

    import llmsim
    with llmsim.running() as sim:        # a free port, in a background thread
        sim.url, sim.client.requests()
"""

__version__ = "0.1.0"

from .app import create_app  # noqa: E402
from .control import SimClient, SimError  # noqa: E402
from .server import Simulator, running  # noqa: E402
from .state import SimState  # noqa: E402

__all__ = ["running", "Simulator", "SimClient", "SimError", "SimState", "create_app", "__version__"]
