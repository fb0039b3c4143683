"""The curl commands of a README: found in its code blocks, then read into a request."""

from __future__ import annotations

import re
import shlex


def curl_commands(text: str) -> list[list[str]]:
    """argv of each curl command in a Markdown text's code blocks (continuation lines joined)."""
    commands = []
    for block in re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.S):
        joined = re.sub(r"\\\n", " ", block)
        for line in joined.splitlines():
            line = line.strip()
            if line.startswith("curl "):
                try:
                    commands.append(shlex.split(line, comments=True))
                except ValueError:
                    continue
    return commands


def curl_request(argv: list[str]) -> dict:
    req = {"method": None, "url": None, "headers": [], "body": None, "no_buffer": False}
    i = 1
    while i < len(argv):
        token = argv[i]
        nxt = argv[i + 1] if i + 1 < len(argv) else None
        if token in ("-N", "--no-buffer"):
            req["no_buffer"] = True
        elif token.startswith("-") and not token.startswith("--") and "N" in token[1:] and token[1:].isalpha():
            req["no_buffer"] = True  # combined short flags such as -sN
            if token[-1] == "X" and nxt:
                req["method"] = nxt.upper()
                i += 1
        elif token in ("-X", "--request") and nxt:
            req["method"] = nxt.upper()
            i += 1
        elif token in ("-H", "--header") and nxt:
            name, _, value = nxt.partition(":")
            req["headers"].append((name.strip(), value.strip()))
            i += 1
        elif token in ("-d", "--data", "--data-raw", "--data-binary") and nxt is not None:
            req["body"] = nxt
            i += 1
        elif token == "--json" and nxt is not None:
            req["body"] = nxt
            req["headers"] += [("Content-Type", "application/json"), ("Accept", "application/json")]
            i += 1
        elif token.startswith("http://") or token.startswith("https://"):
            req["url"] = token
        i += 1
    if req["method"] is None:
        req["method"] = "POST" if req["body"] is not None else "GET"
    if req["body"] is not None and not any(k.lower() == "content-type" for k, _ in req["headers"]):
        req["headers"].append(("Content-Type", "application/x-www-form-urlencoded"))  # what curl -d sends
    return req
