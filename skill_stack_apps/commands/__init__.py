"""One module per `skillstack` subcommand; each has `register(subparsers)` and sets `handler`."""
import sys

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def error(message: str, code: int = EXIT_USAGE) -> int:
    """One `error:` line on stderr, whatever the message's own line breaks; returns the exit code."""
    print(f"error: {' '.join(str(message).split())}", file=sys.stderr)
    return code
