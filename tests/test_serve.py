"""purenet-serve over real HTTP on 127.0.0.1: the page, the model's description, the
answers to a drawing (the same as purenet-predict's on the same drawing as a file), every
refusal (a 4xx and one line of JSON, the server still serving after it), Ctrl-C, and the
command line's exit codes.  The page in a real browser: test_browser.py."""

import base64
import http.client
import json
import signal
import socket
import subprocess
import sys
import threading

import pytest

from purenet import Network, load
from purenet.cli import predict, serve
from purenet.formats.digits import mnist_input
from purenet.formats.images import Image
from purenet.reference import ACTIVATIONS, COSTS, forward_pass

from helpers import C_MISSING, ROOT, make_tiny_mnist

SIDE = serve.DRAWING


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    """A 784-12-10 model trained by purenet-train on the tiny fake MNIST."""
    folder = tmp_path_factory.mktemp("serve")
    path = str(folder / "model.json")
    subprocess.run([sys.executable, "-m", "purenet.train", "--data-dir",
                    make_tiny_mnist(str(folder / "mnist")), "--sizes", "784,12,10", "--epochs",
                    "2", "--backend", "python", "--quiet", "--save", path],
                   cwd=ROOT, check=True, capture_output=True)
    return path


def start(model_path, backend="python"):
    """A server of the model on a free port of 127.0.0.1, serving in a thread."""
    net, side = predict.load_model(model_path, backend)
    server = serve.make_server(serve.Model(net, side, model_path), "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="module")
def server(model_path):
    server = start(model_path)
    yield server
    server.shutdown()
    server.server_close()


def request(server, method, path, body=None, headers=None):
    """(status, content type, body bytes) of one request on a new connection."""
    conn = http.client.HTTPConnection(*server.server_address[:2], timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, r.getheader("Content-Type"), r.read()
    finally:
        conn.close()


def drawing(pixels, width=SIDE, height=SIDE):
    return json.dumps({"width": width, "height": height,
                       "pixels": base64.b64encode(bytes(pixels)).decode()}).encode()


def stroke_pixels():
    """A light vertical bar on black, drawn into a SIDE x SIDE image (a "1")."""
    pixels = bytearray(SIDE * SIDE)
    for r in range(SIDE // 7, SIDE - SIDE // 7):
        for c in range(SIDE // 2 - 10, SIDE // 2 + 10):
            pixels[r * SIDE + c] = 255
    return pixels


def answer(server, body):
    status, kind, data = request(server, "POST", "/api/predict", body)
    assert (status, kind) == (200, "application/json"), data
    return json.loads(data)


def test_the_page_is_served_whole_and_needs_nothing_from_elsewhere(server):
    status, kind, page = request(server, "GET", "/")
    assert (status, kind) == (200, "text/html; charset=utf-8")
    with open(serve.PAGE, "rb") as f:
        assert page == f.read()
    for outside in (b"http:", b"https:", b"src=", b"href=", b"@import", b"url("):
        assert outside not in page            # no script, style, font or image fetched


def test_the_model_is_described_with_its_recorded_test_accuracy(server, model_path):
    status, _, data = request(server, "GET", "/api/model")
    info, net = json.loads(data), load(model_path)
    assert status == 200
    assert info == {"file": "model.json", "sizes": [784, 12, 10], "cost": "quadratic",
                    "activation": "sigmoid", "backend": "python", "side": 28, "drawing": SIDE,
                    "test": {"accuracy": net.history[-1]["accuracy"], "epoch": 2, "epochs": 2,
                             "n": 20}}


def test_the_accuracy_shown_is_the_kept_epochs_or_the_last_or_none():
    net = Network([4, 3, 2], seed=0)
    assert serve.test_accuracy(net) is None                           # never trained
    net.history = [{"epoch": 1, "accuracy": 0.5, "n_test": 10},
                   {"epoch": 2, "accuracy": 0.25, "n_test": 10}]
    assert serve.test_accuracy(net) == {"accuracy": 0.25, "epoch": 2, "epochs": 2, "n": 10}
    net.meta["best_epoch"] = 1                                       # early stopping kept 1
    assert serve.test_accuracy(net)["accuracy"] == 0.5
    net.history = [{"epoch": 1, "hits": 5}]                           # no test data
    assert serve.test_accuracy(net) is None


def predict_cli(model_path, drawing, folder, capsys):
    """purenet-predict --json on the drawing, written as a SIDE x SIDE PGM file."""
    path = str(folder / "drawing.pgm")
    with open(path, "wb") as f:
        f.write(b"P5 %d %d 255\n" % (SIDE, SIDE) + bytes(drawing))
    capsys.readouterr()
    assert predict.main(["--json", "--backend", "python", model_path, path]) == 0
    return json.loads(capsys.readouterr().out)


def test_a_drawing_gets_what_purenet_predict_gives_for_the_same_drawing(
        server, model_path, tmp_path, capsys):
    got = answer(server, drawing(stroke_pixels()))
    pixels, _ = mnist_input(Image(SIDE, SIDE, bytes(stroke_pixels())), 28, invert=False)
    assert got["input"] == list(pixels)
    cli = predict_cli(model_path, stroke_pixels(), tmp_path, capsys)
    assert got["outputs"] == cli["outputs"] and got["class"] == cli["class"]
    net = load(model_path)
    x = [p / 255.0 for p in pixels]
    activations = forward_pass(net.weights, net.biases, x, ACTIVATIONS["sigmoid"],
                               COSTS["quadratic"])[1]
    assert got["hidden"] == [activations[1]] and len(got["hidden"][0]) == 12


@pytest.mark.skipif(C_MISSING is not None, reason="C engine unavailable: %s" % C_MISSING)
def test_both_engines_give_the_same_answer(server, model_path):
    on_c = start(model_path, backend="c")
    try:
        body = drawing(stroke_pixels())
        assert answer(on_c, body) == answer(server, body)
        assert json.loads(request(on_c, "GET", "/api/model")[2])["backend"] == "c"
    finally:
        on_c.shutdown()
        on_c.server_close()


def test_a_first_layer_units_weights(server, model_path):
    net = load(model_path)
    status, _, data = request(server, "GET", "/api/weights/11")
    assert status == 200
    assert json.loads(data) == {"unit": 11, "side": 28, "weights": net.weights[0][11],
                                "bias": net.biases[0][11]}


BLANK = bytes(SIDE * SIDE)
REFUSED = [       # (method, path, body, headers, status, words of the message)
    ("POST", "/api/predict", b"{" * (serve.MAX_BODY + 1), {}, 413, "at most"),
    ("POST", "/api/predict", b" " * serve.MAX_DISCARD, {}, 413, "at most"),   # read, dropped
    ("POST", "/api/predict", b"{not json", {}, 400, "not JSON"),
    ("POST", "/api/predict", b"\xff\xfe", {}, 400, "not JSON"),
    ("POST", "/api/predict", b"[1, 2]", {}, 400, "a drawing is"),
    ("POST", "/api/predict", drawing(bytes(100 * 100), 100, 100), {}, 400, "280x280"),
    ("POST", "/api/predict", drawing(bytes(SIDE * SIDE - 1)), {}, 400, "pixels"),
    ("POST", "/api/predict", b'{"width": 280, "height": 280, "pixels": "*"}', {}, 400,
     "base64"),
    ("POST", "/api/predict", drawing(BLANK), {}, 422, ""),
    ("POST", "/api/predict", None, {}, 400, "not JSON"),          # Content-Length: 0
    ("POST", "/api/predict", b"{}", {"Content-Length": "-1"}, 400, "Content-Length"),
    ("POST", "/elsewhere", b"{}", {}, 404, "no such page"),
    ("GET", "/nothing", None, {}, 404, "no such page"),
    ("GET", "/draw.html", None, {}, 404, "no such page"),
    ("GET", "/../purenet/cli/serve.py", None, {}, 404, "no such page"),
    ("GET", "/%2e%2e/%2e%2e/etc/passwd", None, {}, 404, "no such page"),
    ("GET", "//etc/passwd", None, {}, 404, "no such page"),
    ("GET", "/api/../../../etc/passwd", None, {}, 404, "no such page"),
    ("GET", "/api/weights/12", None, {}, 404, "units 0 to 11"),
    ("GET", "/api/weights/-1", None, {}, 404, "no such page"),
    ("PUT", "/", b"", {}, 405, "only GET and POST"),
    ("HEAD", "/", None, {}, 405, ""),
]


@pytest.mark.parametrize("method, path, body, headers, status, words", REFUSED,
                         ids=["%s %s %d" % (m, p[:30], s) for m, p, _, _, s, _ in REFUSED])
def test_a_bad_request_gets_a_4xx_and_one_line_of_json_and_serving_goes_on(
        server, method, path, body, headers, status, words):
    got, kind, data = request(server, method, path, body, headers)
    assert (got, kind) == (status, "application/json")
    if method != "HEAD":
        assert data.endswith(b"\n") and data.count(b"\n") == 1
        assert words in json.loads(data)["error"]
    assert answer(server, drawing(stroke_pixels()))["input"]         # still serving
    assert request(server, "GET", "/")[0] == 200


def raw(server, data):
    """(status line, last line) of what the server answers to raw bytes."""
    with socket.create_connection(server.server_address[:2], timeout=10) as s:
        s.sendall(data)
        lines = s.makefile("rb").readlines()
    return lines[0], json.loads(lines[-1])


@pytest.mark.parametrize("data, status, words", [
    (b"POST /api/predict HTTP/1.0\r\n\r\n", 411, "Content-Length"),
    (b"POST /api/predict HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
     b"0\r\n\r\n", 411, "Content-Length"),
    (b"GET / x HTTP/1.0\r\n\r\n", 400, "Bad request syntax"),
    (b"GET /" + b"a" * 70000 + b" HTTP/1.0\r\n\r\n", 414, "URI Too Long"),
])
def test_a_malformed_request_or_a_body_of_unknown_length_is_a_4xx_and_serving_goes_on(
        server, data, status, words):
    first, last = raw(server, data)
    assert first.startswith(b"HTTP/1.0 %d " % status) and words in last["error"]
    assert request(server, "GET", "/api/model")[0] == 200


def test_a_body_that_does_not_come_is_a_408_and_serving_goes_on(server, monkeypatch):
    monkeypatch.setattr(serve.Handler, "timeout", 0.5)
    first, last = raw(server, b"POST /api/predict HTTP/1.0\r\nContent-Length: 10\r\n\r\n{")
    assert first.startswith(b"HTTP/1.0 408 ") and "within 0.5 s" in last["error"]
    assert request(server, "GET", "/api/model")[0] == 200


def command(*args):
    return [sys.executable, "-m", "purenet.serve"] + list(args)


def test_it_serves_on_127_0_0_1_and_stops_cleanly_on_ctrl_c(model_path):
    proc = subprocess.Popen(command(model_path, "--port", "0"), cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        line = proc.stdout.readline()
        assert "model.json (784-12-10) on http://127.0.0.1:" in line and "Ctrl-C" in line
        port = int(line.split("127.0.0.1:")[1].split("/")[0])
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/api/model")
        assert conn.getresponse().status == 200
        conn.close()
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0
    assert out == "purenet-serve: stopped\n" and err == ""


@pytest.mark.parametrize("args, code, words", [
    (["--port", "70000"], 2, "--port: must be from 0 to 65535, got 70000"),
    (["--port", "x"], 2, "'x' is not a whole number"),
    (["--backend", "fortran"], 2, "invalid choice"),
    (["--host", "192.0.2.1"], 2, "cannot serve on 192.0.2.1 port 0"),
])
def test_bad_options_are_one_line_and_exit_2(model_path, args, code, words):
    out = subprocess.run(command(model_path, "--port", "0", *args), cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert (out.returncode, out.stdout) == (code, "")
    assert out.stderr.count("\n") == 1 and words in out.stderr, out.stderr


def test_a_port_in_use_is_refused_in_one_line(server, model_path):
    port = str(server.server_address[1])
    out = subprocess.run(command(model_path, "--port", port), cwd=ROOT, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 2 and out.stderr.count("\n") == 1
    assert "cannot serve on 127.0.0.1 port %s" % port in out.stderr


@pytest.mark.parametrize("content", [None, "{}", "not json"])
def test_a_bad_model_file_is_one_line_and_exit_1(tmp_path, content):
    path = tmp_path / "model.json"
    if content is not None:
        path.write_text(content)
    out = subprocess.run(command(str(path), "--port", "0"), cwd=ROOT, capture_output=True,
                         text=True, timeout=60)
    assert (out.returncode, out.stdout) == (1, "")
    assert out.stderr.startswith("purenet-serve: error: ") and out.stderr.count("\n") == 1
    assert "model.json" in out.stderr
