"""serving-view's command line: one-line errors with exit 2, the URL on one line, Ctrl-C -> 130."""
import subprocess
import urllib.request

import pytest

from model.app.view.server import bound_url, origins, parser, port_number
from tests.app.view.drive import ViewServer
from tests.helpers import python_cmd


def test_flags_and_origins():
    args = parser().parse_args([])
    assert (args.port, args.address, args.show) == (5006, "127.0.0.1", False)
    assert parser().parse_args(["--show", "--port", "0"]).show is True
    assert port_number("8080") == 8080
    assert origins("127.0.0.1", 5006) == ["127.0.0.1:5006", "localhost:5006"]


@pytest.mark.cli
def test_serves_on_loopback_and_stops_on_ctrl_c():
    with ViewServer() as server:
        assert server.first_line == server.url == f"http://127.0.0.1:{server.port}/"
        with urllib.request.urlopen(server.url, timeout=120) as response:
            page = response.read().decode()
        assert response.status == 200 and "LLM serving economics" in page
        code = server.stop()
        err = server.stderr().strip().splitlines()
    assert code == 130
    assert err[-1] == "serving-view: interrupted, server stopped"


@pytest.mark.parametrize("address, port, line", [
    ("127.0.0.1", 5006, "http://127.0.0.1:5006/"),
    ("localhost", 8080, "http://localhost:8080/"),
    ("::1", 5006, "http://[::1]:5006/"),
    ("0.0.0.0", 5006, "http://0.0.0.0:5006/ (all interfaces)"),
    ("", 5006, "http://0.0.0.0:5006/ (all interfaces)"),
    ("::", 5006, "http://[::]:5006/ (all interfaces)"),
    ("192.0.2.7", 5006, "http://192.0.2.7:5006/"),
])
def test_the_printed_url_is_the_bound_address(address, port, line):
    assert bound_url(address, port) == line


def test_origins_of_an_exposed_address():
    assert origins("0.0.0.0", 5006) == ["127.0.0.1:5006", "localhost:5006"]
    assert origins("192.0.2.7", 80) == ["127.0.0.1:80", "localhost:80", "192.0.2.7:80"]
    assert origins("::1", 5006) == ["127.0.0.1:5006", "localhost:5006", "[::1]:5006"]
    args = parser().parse_args(["--allow-websocket-origin", "example.org:5006", "--allow-websocket-origin", "h"])
    assert args.allow_websocket_origin == ["example.org:5006", "h"]


@pytest.mark.parametrize("args, message", [
    (["--port", "abc"], "argument --port: invalid port 'abc': a whole number 0-65535"),
    (["--port", "70000"], "argument --port: invalid port 70000: a whole number 0-65535"),
    (["--bogus"], "unrecognized arguments: --bogus"),
    (["--address", "0.0.0.0"], "argument --address: '0.0.0.0' is beyond loopback and the page has no "
                               "authentication; name the hosts that may open it with --allow-websocket-origin"),
    (["--address", "192.0.2.7", "--port", "0"], "argument --address: '192.0.2.7' is beyond loopback"),
    (["--address", ""], "argument --address: '' is beyond loopback"),
    (["--address", "0.0.0.0", "--allow-websocket-origin", "http://example.org"],
     "argument --allow-websocket-origin: invalid origin 'http://example.org': a HOST[:PORT]"),
    (["--address", "0.0.0.0", "--allow-websocket-origin", "example.org:0"],
     "argument --allow-websocket-origin: invalid origin 'example.org:0': its port must be 1-65535"),
])
@pytest.mark.cli
def test_a_bad_flag_exits_2_with_one_line(args, message):
    """A bad port, an unknown flag, an address beyond loopback without an origin, a bad origin."""
    run = subprocess.run(python_cmd("-m", "model.app.view.server", *args), capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 2
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("serving-view: error: ") and message in lines[0]
    assert run.stdout == ""


@pytest.mark.cli
def test_help_warns_there_is_no_authentication():
    run = subprocess.run(python_cmd("-m", "model.app.view.server", "--help"), capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0
    text = " ".join(run.stdout.split())
    assert "The page has no authentication" in text
    assert "WARNING: no authentication" in text
    assert "--allow-websocket-origin HOST[:PORT]" in text
    assert "requires --allow-websocket-origin" in text.replace("websocket- origin", "websocket-origin")
