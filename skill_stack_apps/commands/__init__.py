"""One module per `skillstack` subcommand; each has `register(subparsers)` and sets `handler`."""

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
