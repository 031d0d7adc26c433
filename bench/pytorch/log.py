"""Messages on stderr."""

import sys


def warn(msg):
    print(f"warning: {msg}", file=sys.stderr, flush=True)


def progress(msg):
    print(msg, file=sys.stderr, flush=True)
