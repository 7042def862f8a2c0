"""``serving-view``: serve the interactive view on loopback.

``--port`` (default 5006), ``--address`` (default 127.0.0.1), ``--allow-websocket-origin
HOST[:PORT]`` (repeatable), ``--show/--no-show`` (open a browser tab; default no).  It prints the
URL of the address it really binds on one line (``http://0.0.0.0:5006/ (all interfaces)`` for
``--address 0.0.0.0``), then serves until Ctrl-C (exit 130, one line).  A bad flag value exits 2
with one line.

The page has no authentication: whoever reaches the port can use it (and run analyses on the
server's CPU).  Binding beyond loopback (any ``--address`` other than 127.0.0.1, localhost or
::1) is therefore refused (one line, exit 2) unless the hosts whose pages may open the websocket
are named with ``--allow-websocket-origin``.
"""
from __future__ import annotations

import argparse
import signal
import socket
import sys
from collections.abc import Sequence

EXIT_BAD_INPUT, EXIT_CANNOT_LISTEN, EXIT_INTERRUPTED = 2, 1, 130
PROG = "serving-view"
LOOPBACK = ("127.0.0.1", "localhost", "::1")
ALL_INTERFACES = ("", "0.0.0.0", "::")
NO_AUTH = ("The page has no authentication: anyone who can reach the address and port can use it "
           "and run analyses on this machine's CPU.")


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose errors are one line on stderr, exit code 2."""

    def error(self, message: str) -> None:
        """Print ``message`` as one line and exit 2 (argparse's hook)."""
        print(f"{PROG}: error: {message} (see {PROG} --help)", file=sys.stderr)
        sys.exit(EXIT_BAD_INPUT)


def port_number(text: str) -> int:
    """The TCP port of the ``--port`` flag's text, 0-65535 (0: any free port); an
    ``argparse.ArgumentTypeError`` names the text and the range otherwise."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid port {text!r}: a whole number 0-65535") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"invalid port {port}: a whole number 0-65535")
    return port


def websocket_origin(text: str) -> str:
    """A ``HOST[:PORT]`` for ``--allow-websocket-origin`` (Bokeh's form: no scheme, no path).

    Parameters
    ----------
    text
        The flag's value.

    Returns
    -------
    str

    Raises
    ------
    argparse.ArgumentTypeError
        Empty, with a scheme, path or blank, or a port outside 1-65535.
    """
    host, sep, port = text.rpartition(":") if text.count(":") == 1 else (text, "", "")
    allowed = "a HOST[:PORT] such as example.org:5006 (no scheme, no path)"
    if not host or any(c in text for c in "/ \t@?#") or (sep and not port.isdigit()):
        raise argparse.ArgumentTypeError(f"invalid origin {text!r}: {allowed}")
    if sep and not 1 <= int(port) <= 65535:
        raise argparse.ArgumentTypeError(f"invalid origin {text!r}: its port must be 1-65535")
    return text


def bound_url(address: str, port: int) -> str:
    """The URL line ``serving-view`` prints for the address it really binds.

    Parameters
    ----------
    address
        The listening address (``""``, ``0.0.0.0`` and ``::`` listen on every interface).
    port
        The listening port.

    Returns
    -------
    str
        E.g. ``http://127.0.0.1:5006/``, ``http://0.0.0.0:5006/ (all interfaces)``,
        ``http://[::1]:5006/``.
    """
    host = address or "0.0.0.0"
    url = f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"
    return url + (" (all interfaces)" if address in ALL_INTERFACES else "")


def free_port(address: str) -> int:
    """A TCP port free on the listening ``address`` now (for ``--port 0``: the websocket origins must name it)."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((address, 0))
        return int(s.getsockname()[1])


def parser() -> argparse.ArgumentParser:
    """The command line of ``serving-view``.

    Returns
    -------
    argparse.ArgumentParser
    """
    p = OneLineParser(prog=PROG, description="Serve the interactive view (calculator, fleet plan, sensitivity, "
                                             "uncertainty) of the LLM serving cost toolkit. " + NO_AUTH,
                      epilog="WARNING: no authentication. Keep the default loopback address unless the network "
                             "in front of it is trusted; binding beyond loopback needs --allow-websocket-origin.")
    p.add_argument("--port", type=port_number, default=5006, help="TCP port (default 5006; 0: any free port)")
    p.add_argument("--address", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1, loopback only; 0.0.0.0: every interface). "
                        "Any address other than 127.0.0.1, localhost or ::1 exposes the unauthenticated page "
                        "and requires --allow-websocket-origin")
    p.add_argument("--allow-websocket-origin", action="append", default=[], type=websocket_origin,
                   metavar="HOST[:PORT]",
                   help="a host (and port; without one, 80) whose pages may open the view's websocket, as the "
                        "browser's address bar names the server; repeatable. Required with a non-loopback "
                        "--address")
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
    hosts = ["127.0.0.1", "localhost"] + ([address] if address not in ("127.0.0.1", "localhost", *ALL_INTERFACES)
                                          else [])
    return [f"[{h}]:{port}" if ":" in h else f"{h}:{port}" for h in hosts]


def main(argv: Sequence[str] | None = None) -> int:
    """Serve the view until interrupted.

    Parameters
    ----------
    argv
        Command-line arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        130 after Ctrl-C; 1 if the address cannot be listened on (exits 2 on a bad flag, and on
        an address beyond loopback without ``--allow-websocket-origin``).
    """
    p = parser()
    args = p.parse_args(argv)
    if args.address not in LOOPBACK and not args.allow_websocket_origin:
        p.error(f"argument --address: {args.address!r} is beyond loopback and the page has no authentication; "
                f"name the hosts that may open it with --allow-websocket-origin HOST[:PORT], or use one of "
                f"127.0.0.1, localhost, ::1")
    import panel as pn

    from model.app.view import TITLE, create_app

    try:
        port = args.port or free_port(args.address)
        server = pn.serve({"/": create_app}, port=port, address=args.address, show=False, start=False,
                          title=TITLE, verbose=False,
                          websocket_origin=origins(args.address, port) + args.allow_websocket_origin)
    except OSError as err:
        print(f"{PROG}: error: cannot listen on {args.address}:{args.port}: {err.strerror or err}", file=sys.stderr)
        return EXIT_CANNOT_LISTEN
    interrupted = []

    def stop(signum: int, frame: object) -> None:
        interrupted.append(signum)
        server.io_loop.asyncio_loop.call_soon_threadsafe(server.io_loop.stop)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    print(bound_url(args.address, port), flush=True)
    if args.address not in LOOPBACK:
        print(f"{PROG}: warning: serving beyond loopback. {NO_AUTH}", file=sys.stderr, flush=True)
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
