"""purenet-serve over real HTTP on 127.0.0.1: the page, the model's description, the
answers to a drawing (the same as purenet-predict's on the same drawing as a file), every
refusal (a 4xx and one line of JSON, the server still serving after it), Ctrl-C, and the
command line's exit codes; for a model of fully connected layers and for one with conv and
pool layers (its maps, its first layer's filters).  The page in a real browser:
test_browser.py."""

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
from purenet.checks import layers_of
from purenet.cli import predict, serve
from purenet.deep import forward_pass as deep_forward_pass
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


CONV_SIZES = [784, "conv3x5", "pool2", "conv4x3", "pool2", 12, 10]
CONV_SHAPES = [[3, 24, 24], [3, 12, 12], [4, 10, 10], [4, 5, 5], [12]]


@pytest.fixture(scope="module")
def conv_model_path(tmp_path_factory):
    """A small conv model (CONV_SIZES, ReLU, log-likelihood, as --preset network3) trained
    by purenet-train on the reference, one epoch of 300 samples of the tiny fake MNIST."""
    folder = tmp_path_factory.mktemp("serve-conv")
    path = str(folder / "model.json")
    subprocess.run([sys.executable, "-m", "purenet.train", "--data-dir",
                    make_tiny_mnist(str(folder / "mnist"), n_train=300), "--sizes",
                    ",".join(map(str, CONV_SIZES)), "--activation", "relu", "--cost",
                    "log-likelihood", "--init", "scaled", "--lr", "0.05", "--epochs", "1",
                    "--backend", "python", "--quiet", "--save", path],
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


@pytest.fixture(scope="module")
def conv_server(conv_model_path):
    server = start(conv_model_path)          # the reference: the C conv engine may be missing
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
                             "n": 20},
                    "hidden": [{"name": "12", "kind": "full", "shape": [12]}]}


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


def test_a_conv_model_is_described_with_its_layers_shapes(conv_server):
    status, _, data = request(conv_server, "GET", "/api/model")
    info = json.loads(data)
    assert status == 200
    assert info["sizes"] == CONV_SIZES and info["activation"] == "relu"
    assert info["hidden"] == [
        {"name": "conv3x5", "kind": "conv", "shape": [3, 24, 24]},
        {"name": "pool2", "kind": "pool", "shape": [3, 12, 12]},
        {"name": "conv4x3", "kind": "conv", "shape": [4, 10, 10]},
        {"name": "pool2", "kind": "pool", "shape": [4, 5, 5]},
        {"name": "12", "kind": "full", "shape": [12]}]


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


def by_map_row_column(a):
    """Maps a[c][y][x] as one list, c then y then x ascending (written out here, not
    convolution.flatten, so that the order is checked)."""
    return [a[c][y][x] for c in range(len(a)) for y in range(len(a[c]))
            for x in range(len(a[c][y]))]


def test_a_conv_models_answer_holds_its_maps_as_deep_forward_pass_makes_them(
        conv_server, conv_model_path, tmp_path, capsys):
    got = answer(conv_server, drawing(stroke_pixels()))
    pixels, _ = mnist_input(Image(SIDE, SIDE, bytes(stroke_pixels())), 28, invert=False)
    assert got["input"] == list(pixels)
    cli = predict_cli(conv_model_path, stroke_pixels(), tmp_path, capsys)
    assert got["outputs"] == cli["outputs"] and got["class"] == cli["class"]
    net = load(conv_model_path)
    activations = deep_forward_pass(layers_of(CONV_SIZES), net.weights, net.biases,
                                    [p / 255.0 for p in pixels], ACTIVATIONS["relu"],
                                    COSTS["log-likelihood"])[1]
    assert got["outputs"] == activations[-1]
    want = [by_map_row_column(a) for a in activations[1:5]] + [activations[5]]
    assert got["hidden"] == want
    assert [len(a) for a in got["hidden"]] == [3 * 24 * 24, 3 * 12 * 12, 400, 100, 12]
    assert any(v > 0.0 for a in got["hidden"] for v in a)        # not a blank answer


def test_a_conv_first_layers_filter_and_its_bias(conv_server, conv_model_path):
    net = load(conv_model_path)
    for f in range(3):
        status, _, data = request(conv_server, "GET", "/api/weights/%d" % f)
        assert status == 200
        assert json.loads(data) == {"unit": f, "kind": "conv", "side": 5,
                                    "weights": by_map_row_column(net.weights[0][f]),
                                    "bias": net.biases[0][f]}


CONV_REFUSED = [      # (method, path, body, status, words of the message)
    ("GET", "/api/weights/3", None, 404, "filters 0 to 2"),
    ("GET", "/api/weights/784", None, 404, "filters 0 to 2"),
    ("GET", "/api/weights/-1", None, 404, "no such page"),
    ("GET", "/api/weights/x", None, 404, "no such page"),
    ("POST", "/api/predict", drawing(bytes(SIDE * SIDE)), 422, ""),
    ("POST", "/api/predict", drawing(bytes(28 * 28), 28, 28), 400, "280x280"),
    ("POST", "/api/predict", b"[]", 400, "a drawing is"),
]


@pytest.mark.parametrize("method, path, body, status, words", CONV_REFUSED,
                         ids=["%s %s %d" % (m, p, s) for m, p, _, s, _ in CONV_REFUSED])
def test_a_conv_model_refuses_bad_requests_with_a_4xx_and_goes_on(
        conv_server, method, path, body, status, words):
    got, kind, data = request(conv_server, method, path, body)
    assert (got, kind) == (status, "application/json")
    assert words in json.loads(data)["error"]
    assert len(answer(conv_server, drawing(stroke_pixels()))["hidden"]) == 5


def test_a_model_whose_first_layer_is_a_pool_layer_has_no_weights_to_show(tmp_path):
    path = str(tmp_path / "pool.json")
    Network([784, "pool4", 10], seed=0).save(path)
    pool = start(path)
    try:
        info = json.loads(request(pool, "GET", "/api/model")[2])
        assert info["hidden"] == [{"name": "pool4", "kind": "pool", "shape": [1, 7, 7]}]
        status, _, data = request(pool, "GET", "/api/weights/0")
        assert status == 404 and "pool4, has no weights" in json.loads(data)["error"]
        got = answer(pool, drawing(stroke_pixels()))
        pixels = got["input"]
        want = [max(pixels[(4 * y + u) * 28 + 4 * x + v] / 255.0
                    for u in range(4) for v in range(4)) for y in range(7) for x in range(7)]
        assert got["hidden"] == [want]               # each 4x4 window's largest pixel
    finally:
        pool.shutdown()
        pool.server_close()


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
    assert json.loads(data) == {"unit": 11, "kind": "full", "side": 28,
                                "weights": net.weights[0][11], "bias": net.biases[0][11]}


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
