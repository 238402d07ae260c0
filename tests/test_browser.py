"""purenet-serve's page in a real browser: headless Chromium driven by Selenium.

Each test draws on the canvas with real pointer events (a mouse, a pen and a finger, the
W3C actions chromedriver turns into pointer events) and reads the page back: the digit it
shows must be the one purenet-predict gives for the same drawing (the drawing the page
sent, written as a PGM), its bars those outputs, its 28x28 preview what mnist_input
makes of the drawing, and its hidden grid the activations.  With the real MNIST files
(PURENET_DATA) and the C engine, the model is trained on MNIST and must also read the
"1", the "7" and the "0" as what they are; otherwise it is trained on the tiny fake MNIST.
A small conv model (on the reference, on the tiny fake MNIST) must show its conv and pool
layers as maps, each pixel the colour of its activation, and its first layer's filters.

Needs selenium, Chromium and chromedriver (Debian: ``apt-get install chromium
chromium-driver``); where one is missing the tests skip, saying which, unless
PURENET_REQUIRE_BROWSER=1, which makes that a failure (CI sets it).
PURENET_SCREENSHOT=docs/img/serve.png writes the README's screenshot;
PURENET_SCREENSHOT_CONV=FILE.png the conv model's page, and PURENET_CONV_MODEL=FILE.json
serves that model instead of the small one (docs/img/serve-conv.png: the network3 model of
docs/cli.md's purenet-serve section, saved as network3.json).
"""

import base64
import json
import math
import os
import shutil
import subprocess
import sys
import threading
import time

import pytest

from purenet.checks import layers_of
from purenet.cli import predict, serve
from purenet.deep import forward_pass as deep_forward_pass
from purenet.formats.digits import mnist_input
from purenet.formats.images import Image
from purenet.reference import ACTIVATIONS, COSTS, forward_pass

from helpers import C_MISSING, ROOT, make_tiny_mnist, mnist_dir

try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.actions import interaction
    from selenium.webdriver.common.actions.action_builder import ActionBuilder
    from selenium.webdriver.common.actions.pointer_input import PointerInput
    from selenium.webdriver.support.ui import WebDriverWait
    SELENIUM = None
except ImportError as e:
    SELENIUM = e

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
WINDOW = (1200, 700)
CONV_WINDOW = (1200, 1000)       # a conv model's maps take a row of their own
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--window-size=%d,%d" % WINDOW]
MISSING = ("selenium is not installed (pip install selenium)" if SELENIUM else
           "Chromium is not installed (apt-get install chromium)" if not CHROMIUM else
           "chromedriver is not installed (apt-get install chromium-driver)" if not DRIVER
           else None)
if MISSING and os.environ.get("PURENET_REQUIRE_BROWSER") == "1":
    raise RuntimeError("PURENET_REQUIRE_BROWSER=1 but " + MISSING)
pytestmark = pytest.mark.skipif(MISSING is not None, reason="no browser: %s" % MISSING)

REAL = mnist_dir() is not None and C_MISSING is None      # a model that reads real digits
SIDE = serve.DRAWING

# The strokes, in canvas pixels (0..280, from the top left), one list of points each.
ONE = [[(150, 40), (150, 90), (145, 150), (140, 240)]]
SEVEN = [[(70, 50), (130, 48), (210, 50), (170, 120), (140, 180), (120, 245)]]
ZERO = [[(140 + 70 * math.sin(2 * math.pi * k / 32), 140 - 100 * math.cos(2 * math.pi * k / 32))
         for k in range(33)]]
DIGITS = [("1", ONE, "mouse"), ("7", SEVEN, "pen"), ("0", ZERO, "touch")]


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    """A 784-100-10 model trained in seconds on MNIST, or 784-30-10 on the tiny fake."""
    folder = tmp_path_factory.mktemp("browser")
    path = str(folder / "model.json")
    if REAL:
        options = ["--backend", "c", "--preset", "network2", "--limit", "20000",
                   "--validation", "5000", "--epochs", "5", "--data-dir", mnist_dir()]
    else:
        options = ["--backend", "python", "--sizes", "784,30,10", "--epochs", "2",
                   "--data-dir", make_tiny_mnist(str(folder / "mnist"))]
    subprocess.run([sys.executable, "-m", "purenet.train", "--quiet", "--save", path]
                   + options, cwd=ROOT, check=True, capture_output=True)
    return path


GATE = threading.Event()        # SlowModel's answers wait while it is clear
GATE.set()


class SlowModel(serve.Model):
    """Answers after 0.2 s, slower than strokes come (as a large model may), and not
    before GATE is set."""

    def predict(self, image):
        time.sleep(0.2)
        assert GATE.wait(10)
        return super().predict(image)


@pytest.fixture(scope="module")
def url(model_path):
    net, side = predict.load_model(model_path, None)
    server = serve.make_server(SlowModel(net, side, model_path), "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield "http://127.0.0.1:%d/" % server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS + ["--user-data-dir=" + str(tmp_path_factory.mktemp("chromium"))]:
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(DRIVER))
    yield driver
    driver.quit()


@pytest.fixture
def page(browser, url):
    """The page, freshly loaded, once it has the model's description."""
    browser.get(url)
    WebDriverWait(browser, 20).until(
        lambda d: d.execute_script("return document.body.dataset.ready === 'yes'"))
    return browser


def along(points, step=8):
    """The points of a stroke with points in between, at most step pixels apart."""
    out = [points[0]]
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        n = max(1, math.ceil(math.hypot(x1 - x0, y1 - y0) / step))
        out += [(x0 + (x1 - x0) * i / n, y0 + (y1 - y0) * i / n) for i in range(1, n + 1)]
    return out


def draw(driver, strokes, kind):
    """Each stroke as pointer events of a mouse, a pen or a finger on the canvas, sent as
    fast as the browser takes them (faster than SlowModel answers: the page must send the
    drawing again once an answer comes); then wait for the last drawing's answer."""
    move(driver, strokes, kind)
    WebDriverWait(driver, 10).until(lambda d: d.execute_script(
        "const s = purenet; return !s.busy && s.shown !== null && s.shown.drawn === s.drawn"))


def move(driver, strokes, kind):
    """The pointer events of draw(), without waiting for an answer."""
    canvas = driver.find_element("id", "draw")
    kinds = {"mouse": interaction.POINTER_MOUSE, "pen": interaction.POINTER_PEN,
             "touch": interaction.POINTER_TOUCH}
    actions = ActionBuilder(driver, mouse=PointerInput(kinds[kind], kind), duration=0)
    for points in strokes:
        for i, (x, y) in enumerate(along(points)):
            actions.pointer_action.move_to(canvas, round(x - SIDE / 2), round(y - SIDE / 2))
            if i == 0:
                actions.pointer_action.pointer_down()
        actions.pointer_action.pointer_up()
    actions.perform()


def canvas_red(driver, name):
    """The red channel of every pixel of a canvas, as bytes (grey on the page's canvases)."""
    return base64.b64decode(driver.execute_script(
        "const c = document.getElementById(arguments[0]);"
        "const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        "let s = ''; for (let i = 0; i < d.length; i += 4) s += String.fromCharCode(d[i]);"
        "return btoa(s);", name))


def predicted_by_cli(model_path, drawing, folder, capsys, options=()):
    """purenet-predict --json on the drawing, written as a SIDE x SIDE PGM file."""
    path = str(folder / "drawing.pgm")
    with open(path, "wb") as f:
        f.write(b"P5 %d %d 255\n" % (SIDE, SIDE) + drawing)
    capsys.readouterr()
    assert predict.main(["--json", *options, model_path, path]) == 0
    return json.loads(capsys.readouterr().out)


def bars(driver):
    """[(value text, fill's share of its track, best?)] of the ten bars."""
    return driver.execute_script(
        "return Array.from(document.querySelectorAll('.bar')).map(b => ["
        "b.querySelector('.value').textContent, b.querySelector('.fill').offsetWidth /"
        "b.querySelector('.track').offsetWidth, b.classList.contains('best')])")


def unit_colours(driver):
    return driver.execute_script("return Array.from(document.querySelectorAll('.unit'))"
                                 ".map(u => getComputedStyle(u).backgroundColor)")


def grey(a):
    """The colour the page gives a sigmoid unit's activation a."""
    c = math.floor(255 * a + 0.5)
    return "rgb(%d, %d, %d)" % (c, c, c)


@pytest.mark.parametrize("digit, strokes, kind", DIGITS, ids=[d for d, _, _ in DIGITS])
def test_a_drawn_digit_shows_what_purenet_predict_says(page, model_path, tmp_path, capsys,
                                                       digit, strokes, kind):
    draw(page, strokes, kind)
    sent = page.execute_script("return purenet.shown.drawing")
    assert (sent["width"], sent["height"]) == (SIDE, SIDE)
    drawing = base64.b64decode(sent["pixels"])
    assert drawing == canvas_red(page, "draw")               # the last drawing was sent
    pixels, _ = mnist_input(Image(SIDE, SIDE, drawing), 28, invert=False)
    want = predicted_by_cli(model_path, drawing, tmp_path, capsys)
    assert page.find_element("id", "prediction").text == str(want["class"])
    assert page.find_element("id", "status").text == ""        # no refusal on the way
    if REAL:
        assert want["class"] == int(digit)
    shown = bars(page)
    assert [text for text, _, _ in shown] == ["%.4f" % v for v in want["outputs"]]
    assert all(abs(share - v) < 0.01 for (_, share, _), v in zip(shown, want["outputs"]))
    assert [best for _, _, best in shown] == [k == want["class"] for k in range(10)]
    assert canvas_red(page, "preview") == pixels
    net = predict.load_model(model_path, "python")[0]
    hidden = forward_pass(net.weights, net.biases, [p / 255.0 for p in pixels],
                          ACTIVATIONS[net.activation], COSTS[net.cost_name])[1][1]
    assert unit_colours(page) == [grey(a) for a in hidden]


def cleared(driver):
    """Is the page as it opened: canvas, preview, bars, digit and grid empty?"""
    return (not any(canvas_red(driver, "draw")) and not any(canvas_red(driver, "preview"))
            and bars(driver) == [["", 0, False]] * 10
            and driver.find_element("id", "prediction").text == ""
            and driver.execute_script("return purenet.shown") is None
            and set(unit_colours(driver)) == {"rgb(238, 238, 238)"})   # the resting grey


def test_clear_empties_the_canvas_the_preview_and_the_bars(page):
    assert cleared(page)
    draw(page, ONE, "mouse")
    assert any(canvas_red(page, "draw")) and not cleared(page)
    page.find_element("id", "clear").click()
    assert cleared(page)
    GATE.clear()                                 # an answer that comes after Clear
    try:
        move(page, SEVEN, "pen")
        page.find_element("id", "clear").click()
        assert page.execute_script("return purenet.busy")
    finally:
        GATE.set()
    WebDriverWait(page, 10).until(lambda d: not d.execute_script("return purenet.busy"))
    assert cleared(page)                         # is not shown
    draw(page, SEVEN, "pen")                     # and drawing goes on
    assert page.find_element("id", "prediction").text != ""


def test_a_tap_draws_a_dot_and_gets_an_answer(page):
    draw(page, [[(140, 140)]], "touch")
    assert canvas_red(page, "draw")[140 * SIDE + 140] == 255
    assert page.find_element("id", "prediction").text != ""
    assert page.find_element("id", "status").text == ""


def test_the_model_line_and_a_hidden_units_weights(page, model_path):
    net = predict.load_model(model_path, "python")[0]
    line = page.find_element("id", "model").text
    record = net.history[-1]
    assert line.startswith("model.json: %s, %s cost, sigmoid hidden units, on the "
                           % ("-".join(map(str, net.sizes)), net.cost_name))
    assert "test accuracy %.2f%% on %d digits" % (100 * record["accuracy"],
                                                  record["n_test"]) in line
    page.find_elements("css selector", "button.unit")[3].click()
    WebDriverWait(page, 20).until(lambda d: d.find_element("id", "unit").is_displayed())
    w = net.weights[0][3]
    big = max(map(abs, w))
    want = bytes(255 if v >= 0 else math.floor(255 * (1 - abs(v / big)) + 0.5) for v in w)
    assert canvas_red(page, "weights") == want                   # red +, blue -, white 0
    assert page.find_element("id", "unit-caption").text.startswith("Unit 3's incoming weights")


def test_a_screenshot_of_the_page(page, tmp_path):
    draw(page, SEVEN, "pen")
    page.find_elements("css selector", "button.unit")[0].click()
    WebDriverWait(page, 20).until(lambda d: d.find_element("id", "unit").is_displayed())
    path = os.environ.get("PURENET_SCREENSHOT") or str(tmp_path / "serve.png")
    assert page.save_screenshot(path)
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


# --- a conv model ----------------------------------------------------------------------------

CONV_SIZES = [784, "conv3x5", "pool2", "conv4x3", "pool2", 12, 10]


@pytest.fixture(scope="module")
def conv_model_path(tmp_path_factory):
    """A small conv model (ReLU, log-likelihood, as --preset network3) trained on the
    reference on 300 samples of the tiny fake MNIST; or $PURENET_CONV_MODEL."""
    if os.environ.get("PURENET_CONV_MODEL"):
        return os.environ["PURENET_CONV_MODEL"]
    folder = tmp_path_factory.mktemp("browser-conv")
    path = str(folder / "model.json")
    subprocess.run([sys.executable, "-m", "purenet.train", "--quiet", "--save", path,
                    "--backend", "python", "--sizes", ",".join(map(str, CONV_SIZES)),
                    "--activation", "relu", "--cost", "log-likelihood", "--init", "scaled",
                    "--lr", "0.05", "--epochs", "1", "--data-dir",
                    make_tiny_mnist(str(folder / "mnist"), n_train=300)],
                   cwd=ROOT, check=True, capture_output=True)
    return path


@pytest.fixture(scope="module")
def conv_url(conv_model_path):
    net, side = predict.load_model(conv_model_path, "python")    # no C conv engine needed
    server = serve.make_server(serve.Model(net, side, conv_model_path), "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield "http://127.0.0.1:%d/" % server.server_address[1]
    server.shutdown()
    server.server_close()


def map_reds(driver):
    """The red channel of every map's canvas, layer after layer, map after map."""
    return [base64.b64decode(b) for b in driver.execute_script(
        "return Array.from(document.querySelectorAll('canvas.map')).map(c => {"
        "const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        "let s = ''; for (let i = 0; i < d.length; i += 4) s += String.fromCharCode(d[i]);"
        "return btoa(s); })")]


def relu_greys(values):
    """The red channel the page gives ReLU activations: grey, white the layer's largest."""
    big = max(values) or 1
    return [math.floor(255 * abs(v / big) + 0.5) for v in values]


def test_a_conv_models_maps_and_filters_are_drawn(browser, conv_url, conv_model_path,
                                                  tmp_path, capsys):
    browser.get(conv_url)
    WebDriverWait(browser, 20).until(
        lambda d: d.execute_script("return document.body.dataset.ready === 'yes'"))
    net = predict.load_model(conv_model_path, "python")[0]
    layers = layers_of(net.sizes)
    maps = [layer for layer in layers[1:-1] if layer.kind != "full"]
    assert len(map_reds(browser)) == sum(layer.shape[0] for layer in maps)
    assert not any(b"".join(map_reds(browser)))                 # blank until a digit is drawn
    draw(browser, SEVEN, "pen")
    drawing = base64.b64decode(browser.execute_script("return purenet.shown.drawing.pixels"))
    assert drawing == canvas_red(browser, "draw")
    want = predicted_by_cli(conv_model_path, drawing, tmp_path, capsys, ["--backend", "python"])
    assert browser.find_element("id", "prediction").text == str(want["class"])
    assert [text for text, _, _ in bars(browser)] == ["%.4f" % v for v in want["outputs"]]
    pixels, _ = mnist_input(Image(SIDE, SIDE, drawing), 28, invert=False)
    activations = deep_forward_pass(layers, net.weights, net.biases,
                                    [p / 255.0 for p in pixels], ACTIVATIONS[net.activation],
                                    COSTS[net.cost_name])[1]
    reds, at = map_reds(browser), 0
    for layer, a in zip(layers[1:-1], activations[1:-1]):
        if layer.kind == "full":
            greys = relu_greys(a)
            assert unit_colours(browser) == ["rgb(%d, %d, %d)" % (c, c, c) for c in greys]
            continue
        greys = relu_greys([v for m in a for row in m for v in row])
        rows, cols = layer.shape[1:]
        for m in range(layer.shape[0]):
            assert len(reds[at]) == rows * cols
            assert list(reds[at]) == greys[m * rows * cols:(m + 1) * rows * cols]
            at += 1
    assert any(b"".join(reds))
    first = layers[1]
    filters = browser.find_elements("css selector", "button.filter")
    assert len(filters) == first.n
    f = max(range(first.n), key=lambda m: max(map(max, activations[1][m])))   # a live map
    filters[f].click()
    WebDriverWait(browser, 20).until(lambda d: d.find_element("id", "unit").is_displayed())
    w = [v for row in net.weights[0][f][0] for v in row]
    big = max(map(abs, w))
    assert canvas_red(browser, "weights") == bytes(
        255 if v >= 0 else math.floor(255 * (1 - abs(v / big)) + 0.5) for v in w)
    caption = browser.find_element("id", "unit-caption").text
    assert caption.startswith("Filter %d, the %d×%d weights that make map %d: "
                              % (f, first.k, first.k, f))
    path = os.environ.get("PURENET_SCREENSHOT_CONV") or str(tmp_path / "serve-conv.png")
    browser.set_window_size(*CONV_WINDOW)
    try:
        browser.execute_script("window.scrollTo(0, 0)")
        assert browser.save_screenshot(path)
    finally:
        browser.set_window_size(*WINDOW)
    browser.find_element("id", "clear").click()
    assert not any(b"".join(map_reds(browser)))                 # Clear blanks the maps too
    assert set(unit_colours(browser)) == {"rgb(238, 238, 238)"}
