"""Draw a digit and watch the network: ``python -m purenet.serve MODEL``.

Serves one page (``draw.html`` beside this file: its script and style inline, nothing
fetched from elsewhere, so it works offline) with the standard library's threading
``http.server``, on 127.0.0.1 unless ``--host`` says otherwise.  On the page's canvas a
digit is drawn, light ink on black as MNIST's, with a mouse, a pen or a finger.  While a
stroke is drawn and when it ends, the page sends the drawing, DRAWING x DRAWING grey
pixels, to ``POST /api/predict``; the server makes the model's input of it with
:func:`purenet.formats.digits.mnist_input` (MNIST's preprocessing) and answers with that
input, every hidden layer's activations and the output activations.  The page shows the
input as a 28x28 picture, each fully connected hidden layer as a grid of its units, each
conv or pool layer as its maps, small images side by side, and the outputs as bars.  A
click on a unit of the first layer shows its incoming weights as an image, or, when the
first layer is a conv layer, the filter of the map clicked (``GET /api/weights/J``).

``GET /api/model`` describes the model, and its hidden layers as ``"hidden"``: for each
its name (its entry of sizes, "100", "conv20x5", "pool2"), its kind ("full", "conv",
"pool") and its shape, [units] or [maps, rows, columns].  The answer to a drawing has
each hidden layer's activations as one flat list, a conv or pool layer's maps in
[map][row][column] order (as the fully connected layer after them reads them).

The hidden activations come from the reference's :func:`purenet.deep.forward_pass` (the
C engine returns only the outputs; the two engines give the same bits); the outputs from
the engine ``--backend`` chooses (as purenet-predict's), on the reference the last layer
of that same forward pass (its feedforward would compute it again: network3's forward
pass takes about 0.3 s in CPython).

The routes are ``GET /`` (the page), ``GET /api/model``, ``GET /api/weights/J`` and
``POST /api/predict``; no file but the page is ever served.  Any other path or method, a
body over MAX_BODY bytes, JSON that is not a drawing, a drawing of another size, or a
unit the first layer does not have gets a 4xx status and one line of JSON,
``{"error": "..."}``, and the server keeps serving.
"""

import argparse
import base64
import binascii
import http.server
import json
import os
import re
import socket
import sys
import threading

from ..checks import layers_of
from ..convolution import flatten
from ..dataset import argmax
from ..deep import forward_pass
from ..errors import ImageError, UsageError
from ..formats.digits import mnist_input
from ..formats.images import Image
from ..reference import ACTIVATIONS, COSTS
from .options import Parser, exit_code, whole_number
from .predict import load_model

PROG = "purenet-serve"
PAGE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "draw.html")
DRAWING = 280               # the page's canvas: a drawing is DRAWING x DRAWING grey pixels
MAX_BODY = 256 * 1024       # bytes of a request body: a drawing's JSON is about 105 KB
MAX_DISCARD = 16 * MAX_BODY    # bytes of a larger body read and dropped before the 413
TIMEOUT = 10                # seconds a connection may stay silent before it is closed
WEIGHTS_PATH = re.compile(r"/api/weights/(\d{1,9})")


class BadRequest(Exception):
    """A request the server refuses: its HTTP status and a one-line message."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


def test_accuracy(net):
    """The test accuracy the model file records for the network it holds (the kept epoch
    after early stopping, else the last), as {"accuracy", "epoch", "epochs", "n"}; or None."""
    history = net.history
    kept = net.meta.get("best_epoch")
    records = [r for r in history if r.get("epoch") == kept] or history[-1:]
    if not records or not isinstance(records[0].get("accuracy"), (int, float)):
        return None
    record = records[0]
    return {"accuracy": record["accuracy"], "epoch": record.get("epoch"),
            "epochs": len(history), "n": record.get("n_test")}


def decode_drawing(body):
    """The Image in a request body ``{"width": DRAWING, "height": DRAWING, "pixels":
    base64 of width * height grey bytes}``; a BadRequest otherwise."""
    try:
        drawing = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise BadRequest(400, "the body is not JSON") from None
    if not isinstance(drawing, dict) or not {"width", "height", "pixels"} <= set(drawing):
        raise BadRequest(400, 'a drawing is {"width", "height", "pixels"}')
    if (drawing["width"], drawing["height"]) != (DRAWING, DRAWING):
        raise BadRequest(400, "a drawing is %dx%d pixels, not %sx%s"
                         % (DRAWING, DRAWING, drawing["width"], drawing["height"]))
    try:
        pixels = base64.b64decode(drawing["pixels"], validate=True)
    except (TypeError, ValueError, binascii.Error):
        raise BadRequest(400, "pixels must be base64") from None
    if len(pixels) != DRAWING * DRAWING:
        raise BadRequest(400, "a drawing has %d pixels, not %d"
                         % (DRAWING * DRAWING, len(pixels)))
    return Image(DRAWING, DRAWING, pixels)


class Model:
    """The network being served and the answers the page asks of it."""

    def __init__(self, net, side, path):
        self.net, self.side, self.path = net, side, path
        self.weights, self.biases = net.weights, net.biases
        self.layers = layers_of(net.sizes)
        self.act, self.cost = ACTIVATIONS[net.activation], COSTS[net.cost_name]
        self.lock = threading.Lock()          # the engine serves one request at a time

    def info(self):
        """What the page's first line says, and the layers it draws."""
        net = self.net
        return {"file": os.path.basename(self.path), "sizes": net.sizes, "cost": net.cost_name,
                "activation": net.activation, "backend": net.backend, "side": self.side,
                "drawing": DRAWING, "test": test_accuracy(net), "hidden": self.hidden_layers()}

    def hidden_layers(self):
        """Each hidden layer's name (its entry of sizes), kind and shape: [units] for a
        fully connected layer, [maps, rows, columns] for a conv or pool layer."""
        return [{"name": str(size), "kind": layer.kind, "shape": list(layer.shape)}
                for size, layer in zip(self.net.sizes[1:-1], self.layers[1:-1])]

    def predict(self, image):
        """The network's input made of a drawing (light ink on black), the hidden layers'
        activations (a conv or pool layer's maps flattened, [map][row][column]), the
        outputs and the predicted class."""
        try:
            pixels, _ = mnist_input(image, self.side, invert=False)
        except ImageError as e:
            raise BadRequest(422, str(e)) from None
        x = [p / 255.0 for p in pixels]
        activations = forward_pass(self.layers, self.weights, self.biases, x, self.act,
                                   self.cost)[1]
        outputs = activations[-1]             # the reference's: the python backend's own
        if self.net.backend != "python":
            with self.lock:
                outputs = self.net.feedforward(x)
        hidden = [flatten(a) if len(layer.shape) == 3 else a
                  for a, layer in zip(activations[1:-1], self.layers[1:-1])]
        return {"input": list(pixels), "hidden": hidden, "outputs": outputs,
                "class": argmax(outputs)}

    def unit_weights(self, unit):
        """What feeds unit ``unit`` of the first layer: a fully connected unit's incoming
        weights (side x side, as the input) and bias; a conv layer's filter ``unit``
        (K x K over the one input map, row by row) and its bias."""
        first = self.layers[1]
        if first.kind == "pool":
            raise BadRequest(404, "the first layer, %s, has no weights" % self.net.sizes[1])
        what = "filters" if first.kind == "conv" else "units"
        if unit >= first.n:
            raise BadRequest(404, "the first layer has %s 0 to %d" % (what, first.n - 1))
        side, weights = ((first.k, flatten(self.weights[0][unit])) if first.kind == "conv"
                         else (self.side, self.weights[0][unit]))
        return {"unit": unit, "kind": first.kind, "side": side, "weights": weights,
                "bias": self.biases[0][unit]}


class Handler(http.server.BaseHTTPRequestHandler):
    """Answers the routes of the module docstring; ``self.server.model`` is the Model and
    ``self.server.page`` the page's bytes."""

    server_version = "purenet-serve"
    timeout = TIMEOUT

    def do_GET(self):
        self.answer(self.get)

    def do_POST(self):
        self.answer(self.post)

    def refuse(self):
        self.send_error(405, "only GET and POST are answered")

    do_HEAD = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_CONNECT = do_TRACE = refuse

    def get(self):
        model = self.server.model
        if self.path == "/":
            return "text/html; charset=utf-8", self.server.page
        if self.path == "/api/model":
            return model.info()
        unit = WEIGHTS_PATH.fullmatch(self.path)
        if unit:
            return model.unit_weights(int(unit.group(1)))
        raise BadRequest(404, "no such page: %s" % self.path[:100])

    def post(self):
        if self.path != "/api/predict":
            raise BadRequest(404, "no such page: %s" % self.path[:100])
        return self.server.model.predict(decode_drawing(self.body()))

    def body(self):
        """The request's body, at most MAX_BODY bytes."""
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            raise BadRequest(411, "a POST needs a Content-Length") from None
        if length < 0:
            raise BadRequest(400, "a negative Content-Length")
        try:
            if length > MAX_BODY:
                self.discard(length)
                raise BadRequest(413, "the body may have at most %d bytes, not %d"
                                 % (MAX_BODY, length))
            return self.rfile.read(length)
        except socket.timeout:               # TimeoutError from Python 3.10, not before
            raise BadRequest(408, "the body did not come within %g s" % self.timeout) from None

    def discard(self, length):
        """Read and drop up to MAX_DISCARD bytes of a body too large to take, so that the
        client, still sending it, can read the refusal (a socket closed with unread data
        would reset the connection instead)."""
        left = min(length, MAX_DISCARD)
        while left > 0:
            chunk = self.rfile.read(min(left, 65536))
            if not chunk:
                return
            left -= len(chunk)

    def answer(self, route):
        """Send what route() returns: (content type, bytes), or an object sent as JSON."""
        try:
            result = route()
        except BadRequest as e:
            self.send_error(e.status, str(e))
            return
        kind, data = result if isinstance(result, tuple) else (
            "application/json", json.dumps(result).encode())
        self.reply(200, kind, data)

    def reply(self, status, kind, data):
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if self.command != "HEAD":
            try:
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):    # the client has gone
                self.close_connection = True

    def send_error(self, code, message=None, explain=None):
        """Every refusal, http.server's own included: one line of JSON, and the
        connection closed (a refused body may be unread)."""
        self.close_connection = True
        text = message or self.responses.get(code, ("error",))[0]
        self.reply(code, "application/json", (json.dumps({"error": text}) + "\n").encode())
        where = getattr(self, "path", "")[:100]
        print("%s: %d %s %s: %s" % (PROG, code, self.command or "-", where, text), file=sys.stderr,
              flush=True)

    def log_message(self, format, *args):
        """No line per request (refusals are printed by send_error)."""


def make_server(model, host, port):
    """A threading HTTP server of the page and ``model`` on (host, port), not started; a
    UsageError when that address cannot be bound."""
    try:
        server = http.server.ThreadingHTTPServer((host, port), Handler)
    except OSError as e:
        raise UsageError("cannot serve on %s port %d: %s (--host, --port; --port 0 takes "
                         "any free port)" % (host, port, e.strerror or e)) from None
    server.model = model
    with open(PAGE, "rb") as f:
        server.page = f.read()
    return server


def port_number(text):
    v = whole_number(text, 0, "from 0 to 65535")
    if v > 65535:
        raise argparse.ArgumentTypeError("must be from 0 to 65535, got %d" % v)
    return v


def build_parser():
    p = Parser(prog=PROG, description="Serve a page to draw digits on and watch the model's "
                                      "activations.")
    p.add_argument("model", metavar="MODEL", help="a model file (purenet-train --save)")
    p.add_argument("--host", default="127.0.0.1",
                   help="the address to serve on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=port_number, default=8000,
                   help="the port (default 8000; 0: any free port)")
    p.add_argument("--backend", choices=["python", "c"], default=None,
                   help="python: the reference; c: the C engine; the same outputs either way "
                        "(default: c where it is built, else python)")
    return p


def run(args):
    """Serve until Ctrl-C."""
    net, side = load_model(args.model, args.backend)
    server = make_server(Model(net, side, args.model), args.host, args.port)
    host, port = server.server_address[:2]
    print("%s: %s (%s) on http://%s:%d/   Ctrl-C stops it"
          % (PROG, args.model, "-".join(map(str, net.sizes)), host, port), flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("%s: stopped" % PROG, flush=True)
    finally:
        server.server_close()


def main(argv=None):
    args = build_parser().parse_args(argv)
    return exit_code(PROG, lambda: run(args))
