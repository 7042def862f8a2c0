"""``serving-view``: serve the interactive view on loopback.

``--port`` (default 5006), ``--address`` (default 127.0.0.1), ``--show/--no-show`` (open a
browser tab; default no).  It prints the page's URL on one line, then serves until Ctrl-C (exit
130, one line).  A bad flag value exits 2 with one line.
"""
from __future__ import annotations

import argparse
import signal
import socket
import sys
from collections.abc import Sequence

EXIT_BAD_INPUT, EXIT_CANNOT_LISTEN, EXIT_INTERRUPTED = 2, 1, 130
PROG = "serving-view"


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose errors are one line on stderr, exit code 2."""

    def error(self, message: str) -> None:
        """Print ``message`` as one line and exit 2 (argparse's hook)."""
        print(f"{PROG}: error: {message} (see {PROG} --help)", file=sys.stderr)
        sys.exit(EXIT_BAD_INPUT)


def port_number(text: str) -> int:
    """A TCP port from the command line (0-65535; 0: any free port).

    Parameters
    ----------
    text
        The flag's value.

    Returns
    -------
    int

    Raises
    ------
    argparse.ArgumentTypeError
        Not a whole number in 0-65535.
    """
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid port {text!r}: a whole number 0-65535") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"invalid port {port}: a whole number 0-65535")
    return port


def free_port(address: str) -> int:
    """A TCP port free on ``address`` now (for ``--port 0``: the websocket origins must name it).

    Parameters
    ----------
    address
        The listening address.

    Returns
    -------
    int
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((address or "127.0.0.1", 0))
        return int(s.getsockname()[1])


def parser() -> argparse.ArgumentParser:
    """The command line of ``serving-view``.

    Returns
    -------
    argparse.ArgumentParser
    """
    p = OneLineParser(prog=PROG, description="Serve the interactive view (calculator, fleet plan, sensitivity) "
                                             "of the LLM serving cost toolkit.")
    p.add_argument("--port", type=port_number, default=5006, help="TCP port (default 5006; 0: any free port)")
    p.add_argument("--address", default="127.0.0.1", help="address to listen on (default 127.0.0.1, loopback only)")
    p.add_argument("--show", action=argparse.BooleanOptionalAction, default=False,
                   help="open the page in a browser (default: --no-show)")
    return p


def origins(address: str, port: int) -> list[str]:
    """The hosts whose pages may open the websocket: the address and localhost, on the port.

    Parameters
    ----------
    address
        The listening address.
    port
        The listening port.

    Returns
    -------
    list of str
    """
    hosts = ["127.0.0.1", "localhost"] + ([address] if address not in ("127.0.0.1", "localhost", "") else [])
    return [f"{h}:{port}" for h in hosts]


def main(argv: Sequence[str] | None = None) -> int:
    """Serve the view until interrupted.

    Parameters
    ----------
    argv
        Command-line arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        130 after Ctrl-C; 1 if the address cannot be listened on (exits 2 on a bad flag).
    """
    args = parser().parse_args(argv)
    import panel as pn

    from model.app.view import TITLE, create_app

    port = args.port or free_port(args.address)
    try:
        server = pn.serve({"/": create_app}, port=port, address=args.address, show=False, start=False,
                          title=TITLE, verbose=False, websocket_origin=origins(args.address, port))
    except OSError as err:
        print(f"{PROG}: error: cannot listen on {args.address}:{port}: {err.strerror or err}", file=sys.stderr)
        return EXIT_CANNOT_LISTEN
    interrupted = []

    def stop(signum: int, frame: object) -> None:
        interrupted.append(signum)
        server.io_loop.asyncio_loop.call_soon_threadsafe(server.io_loop.stop)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    host = "127.0.0.1" if args.address in ("", "0.0.0.0") else args.address
    print(f"http://{host}:{port}/", flush=True)
    server.start()
    if args.show:
        server.io_loop.add_callback(server.show, "/")
    try:
        server.io_loop.start()
    except KeyboardInterrupt:
        interrupted.append(signal.SIGINT)
    if interrupted:
        print(f"{PROG}: interrupted, server stopped", file=sys.stderr)
        return EXIT_INTERRUPTED
    return 0


if __name__ == "__main__":
    sys.exit(main())
