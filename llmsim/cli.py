"""The ``llmsim`` command: ``llmsim serve [--host H] [--port P] [--token-delay-ms N]``."""

from __future__ import annotations

import argparse
import errno
import os
import sys

from . import __version__


def _env_number(name: str, default: float) -> float:
    value = os.environ.get(name)
    if value in (None, ""):
        return default
    try:
        return float(value)
    except ValueError:
        raise SystemExit(f"llmsim: {name}={value!r} is not a number") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="llmsim",
        description="An offline simulator of the Anthropic, OpenAI and OpenRouter APIs.",
    )
    parser.add_argument("--version", action="version", version=f"llmsim {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    serve = sub.add_parser(
        "serve",
        help="serve the simulator until Ctrl-C",
        description="Serve the simulator until Ctrl-C (SIGINT) or SIGTERM. Defaults come from "
        "LLMSIM_HOST, LLMSIM_PORT and LLMSIM_TOKEN_DELAY_MS when set.",
    )
    serve.add_argument("--host", default=os.environ.get("LLMSIM_HOST", "127.0.0.1"),
                       help="address to listen on (default 127.0.0.1; 0.0.0.0 in a container)")
    serve.add_argument("--port", type=int, default=int(_env_number("LLMSIM_PORT", 8900)),
                       help="port (default 8900; 0 picks a free one)")
    serve.add_argument("--token-delay-ms", type=float, default=_env_number("LLMSIM_TOKEN_DELAY_MS", 20),
                       help="delay before each streamed token, in ms (default 20)")
    serve.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command != "serve":
        parser.print_help()
        return 2
    if not 0 <= args.token_delay_ms <= 60_000:
        parser.error("--token-delay-ms must be from 0 to 60000")
    if not 0 <= args.port <= 65535:
        parser.error("--port must be from 0 to 65535")
    from .server import serve_forever

    try:
        serve_forever(args.host, args.port, args.token_delay_ms, log_level=args.log_level,
                      announce=lambda line: print(line, flush=True))
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            print(f"llmsim: port {args.port} on {args.host} is already in use; pick another with --port",
                  file=sys.stderr)
        else:
            print(f"llmsim: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    print("llmsim stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
