"""Fixtures for the llmsim suite: one simulator for the session, reset before each test.

The real SDK clients talk to it over HTTP; nothing is mocked in between.
"""

import os

# Before anything imports litellm: no fetching of the model cost map, nothing online.
os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
os.environ["LITELLM_OFFLINE_MODE"] = "true"
os.environ.setdefault("LITELLM_TELEMETRY", "False")

import anthropic  # noqa: E402
import httpx  # noqa: E402
import openai  # noqa: E402
import pytest  # noqa: E402

import llmsim  # noqa: E402

# Distinct per provider, so a test can tell which key reached where.
ANTHROPIC_KEY = "sk-ant-llmsim-test-0001"
OPENAI_KEY = "sk-openai-llmsim-test-0002"
OPENROUTER_KEY = "sk-or-llmsim-test-0003"


_LLMSIM_DIR = os.path.dirname(__file__)


def pytest_collection_modifyitems(items):
    # litellm's pydantic models warn about TypedDict ReadOnly items on first use: not ours.
    noise = pytest.mark.filterwarnings("ignore:.*ReadOnly.*:UserWarning")
    for item in items:
        if str(item.fspath).startswith(_LLMSIM_DIR):
            item.add_marker(noise)
            # A hang must never block the suite: every test here has a short limit.
            if item.get_closest_marker("timeout") is None:
                item.add_marker(pytest.mark.timeout(30))


@pytest.fixture(scope="session")
def sim_server():
    with llmsim.running(token_delay_ms=0) as sim:
        yield sim


@pytest.fixture
def sim(sim_server):
    """The session's simulator, with faults, journal and config reset."""
    sim_server.client.reset()
    yield sim_server
    sim_server.client.reset()


@pytest.fixture
def anthropic_client(sim):
    client = anthropic.Anthropic(api_key=ANTHROPIC_KEY, base_url=sim.url, max_retries=0, timeout=10)
    yield client
    client.close()


@pytest.fixture
def openai_client(sim):
    client = openai.OpenAI(api_key=OPENAI_KEY, base_url=sim.url + "/v1", max_retries=0, timeout=10)
    yield client
    client.close()


@pytest.fixture
def openrouter_client(sim):
    client = openai.OpenAI(api_key=OPENROUTER_KEY, base_url=sim.url + "/api/v1", max_retries=0, timeout=10)
    yield client
    client.close()


@pytest.fixture
def http(sim):
    with httpx.Client(base_url=sim.url, timeout=10) as client:
        yield client


def user(text):
    return [{"role": "user", "content": text}]
