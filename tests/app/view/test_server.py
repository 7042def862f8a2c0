"""serving-view's command line: one-line errors with exit 2, the URL on one line, Ctrl-C -> 130."""
import subprocess
import urllib.request

import pytest

from model.app.view.drive import ViewServer
from model.app.view.server import origins, parser, port_number
from tests.helpers import python_cmd


@pytest.mark.parametrize("args, message", [
    (["--port", "abc"], "argument --port: invalid port 'abc': a whole number 0-65535"),
    (["--port", "70000"], "argument --port: invalid port 70000: a whole number 0-65535"),
    (["--bogus"], "unrecognized arguments: --bogus"),
])
@pytest.mark.cli
def test_a_bad_flag_exits_2_with_one_line(args, message):
    run = subprocess.run(python_cmd("-m", "model.app.view.server", *args), capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 2
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and lines[0].startswith("serving-view: error:")
    assert run.stdout == ""


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
