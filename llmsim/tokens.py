"""The one tokenizer llmsim uses: tiktoken's ``cl100k_base``, loaded from a local file.

Every count llmsim reports (``usage``, ``count_tokens``, ``max_tokens`` truncation, one stream
event per token) comes from this module.

Loading never touches the network. The BPE file (``cl100k_base.tiktoken``, 1.7 MB) is looked
for, in this order:

1. ``$LLMSIM_TIKTOKEN_FILE`` - an explicit path;
2. the copy litellm bundles (``litellm/litellm_core_utils/tokenizers/<sha1 of the URL>``),
   found without importing litellm;
3. tiktoken's own cache (``$TIKTOKEN_CACHE_DIR``, ``$DATA_GYM_CACHE_DIR`` or
   ``<tmp>/data-gym-cache``).

The file's SHA-256 is checked against the one tiktoken itself pins, and the ``Encoding`` is
built directly from it, so ``tiktoken.get_encoding`` (which would download) is never called.

Input-token rule (the OpenAI cookbook rule, so ``litellm.token_counter`` agrees for plain
text messages)::

    input_tokens = 3                                   # the reply is primed
                 + sum over messages (system prompt included, as a message of role "system"):
                       3 + tokens(role) + tokens(text of content)
                       + (1 + tokens(name) if the message has a "name")
                 + tokens(compact JSON of the tools list, if tools were given)

The text of a content list is its text parts joined with no separator; other parts (images,
documents) add nothing. Tool calls and tool results count through their JSON text.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import os
import tempfile
import threading
from pathlib import Path

import tiktoken

ENCODING_NAME = "cl100k_base"
_URL = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"
_SHA256 = "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"
_CACHE_KEY = hashlib.sha1(_URL.encode()).hexdigest()  # tiktoken's cache file name for the URL
# The constructor arguments tiktoken_ext.openai_public.cl100k_base() uses.
_PAT_STR = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+"""
    r"""|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)
_SPECIAL_TOKENS = {
    "<|endoftext|>": 100257,
    "<|fim_prefix|>": 100258,
    "<|fim_middle|>": 100259,
    "<|fim_suffix|>": 100260,
    "<|endofprompt|>": 100276,
}

_lock = threading.Lock()
_encoding: tiktoken.Encoding | None = None


class TokenizerUnavailable(RuntimeError):
    """The cl100k_base file could not be found locally."""


def candidate_paths() -> list[Path]:
    """Where the BPE file is looked for, in order."""
    paths: list[Path] = []
    explicit = os.environ.get("LLMSIM_TIKTOKEN_FILE")
    if explicit:
        paths.append(Path(explicit))
    spec = importlib.util.find_spec("litellm")  # locates the package without running it
    if spec is not None and spec.submodule_search_locations:
        for root in spec.submodule_search_locations:
            paths.append(Path(root) / "litellm_core_utils" / "tokenizers" / _CACHE_KEY)
    for var in ("TIKTOKEN_CACHE_DIR", "DATA_GYM_CACHE_DIR"):
        if os.environ.get(var):
            paths.append(Path(os.environ[var]) / _CACHE_KEY)
    paths.append(Path(tempfile.gettempdir()) / "data-gym-cache" / _CACHE_KEY)
    return paths


def _load() -> tiktoken.Encoding:
    tried = []
    for path in candidate_paths():
        if not path.is_file():
            tried.append(f"{path} (missing)")
            continue
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() != _SHA256:
            tried.append(f"{path} (wrong SHA-256)")
            continue
        # Parsed here, not with tiktoken.load (which would copy the file into its cache).
        ranks = {
            base64.b64decode(token): int(rank)
            for token, rank in (line.split() for line in data.splitlines() if line)
        }
        return tiktoken.Encoding(
            name=ENCODING_NAME,
            pat_str=_PAT_STR,
            mergeable_ranks=ranks,
            special_tokens=_SPECIAL_TOKENS,
        )
    raise TokenizerUnavailable(
        "llmsim needs tiktoken's cl100k_base file and will not download it. Looked in: "
        + "; ".join(tried)
        + ". Install litellm (it bundles the file) or set LLMSIM_TIKTOKEN_FILE."
    )


def encoding() -> tiktoken.Encoding:
    """The shared cl100k_base encoding, loaded once per process."""
    global _encoding
    if _encoding is None:
        with _lock:
            if _encoding is None:
                _encoding = _load()
    return _encoding


def count(text: str) -> int:
    """Number of cl100k_base tokens in ``text`` (special-token text counts as plain text)."""
    if not text:
        return 0
    return len(encoding().encode_ordinary(text))


def pieces(text: str, limit: int | None = None) -> tuple[list[str], int, bool]:
    """Split ``text`` into token pieces, stopping after ``limit`` tokens.

    Returns ``(pieces, tokens, truncated)``: joining the pieces gives the (possibly cut)
    text, ``tokens`` is how many tokens they hold, ``truncated`` whether ``limit`` cut it.
    A piece is one token, except where a character's UTF-8 bytes span several tokens: those
    tokens are merged into one piece, so a piece is always valid text.
    """
    if not text:
        return [], 0, False
    enc = encoding()
    ids = enc.encode_ordinary(text)
    truncated = limit is not None and len(ids) > limit
    if truncated:
        ids = ids[:limit]
    out: list[str] = []
    pending = b""
    for token in ids:
        pending += enc.decode_single_token_bytes(token)
        try:
            out.append(pending.decode("utf-8"))
        except UnicodeDecodeError:
            continue  # an incomplete character: wait for the next token
        pending = b""
    # A cut inside a character drops its incomplete bytes.
    return out, len(ids), truncated


def truncate(text: str, limit: int | None) -> tuple[str, int, bool]:
    """``text`` cut to ``limit`` tokens: ``(text, tokens, truncated)``; cheaper than pieces()."""
    if not text:
        return "", 0, False
    enc = encoding()
    ids = enc.encode_ordinary(text)
    if limit is None or len(ids) <= limit:
        return text, len(ids), False
    # A cut inside a character drops its incomplete bytes, as pieces() does.
    return enc.decode_bytes(ids[:limit]).decode("utf-8", "ignore"), limit, True


def content_text(content: object) -> str:
    """The text of a message's content: a string, or the text parts of a list."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict):
                kind = part.get("type")
                if kind == "text" and isinstance(part.get("text"), str):
                    parts.append(part["text"])
                elif kind in ("tool_result", "tool_use"):
                    # Anthropic tool blocks count through their JSON text.
                    parts.append(_compact(part.get("content", part.get("input", ""))))
        return "".join(parts)
    return _compact(content)


def _compact(value: object) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


def count_input(messages: list, system: object = None, tools: object = None) -> int:
    """Input tokens of a request, by the rule in this module's docstring."""
    total = 3
    if system:
        total += 3 + count("system") + count(content_text(system))
    for message in messages:
        if not isinstance(message, dict):
            continue
        total += 3 + count(str(message.get("role", ""))) + count(content_text(message.get("content")))
        if message.get("tool_calls"):
            total += count(_compact(message["tool_calls"]))
        name = message.get("name")
        if isinstance(name, str) and name:
            total += 1 + count(name)
    if tools:
        total += count(_compact(tools))
    return total
