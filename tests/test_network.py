"""Network: seeding, parameters, fit/evaluate, model files, the stdlib promise."""

import json
import math
import random

import pytest

import purenet
from purenet import Network, Dataset, DataError, ModelFileError
from conftest import mnist_dir, needs_c, needs_mnist


def pairs_for(sizes, n=40, seed=0):
    import random
    rnd = random.Random(seed)
    out = []
    for _ in range(n):
        x = [rnd.random() if rnd.random() < 0.5 else 0.0 for _ in range(sizes[0])]
        label = rnd.randrange(sizes[-1])
        y = [1.0 if j == label else 0.0 for j in range(sizes[-1])]
        out.append((x, y))
    return out


def test_initial_weights_are_seeded_gaussians():
    a, b = Network([5, 4, 3], seed=42), Network([5, 4, 3], seed=42)
    assert a.weights == b.weights and a.biases == b.biases
    assert Network([5, 4, 3], seed=43).weights != a.weights
    flat = [v for w in Network([784, 100, 10], seed=0).weights for row in w for v in row]
    mean = sum(flat) / len(flat)
    var = sum((v - mean) ** 2 for v in flat) / len(flat)
    assert abs(mean) < 0.02 and abs(var - 1.0) < 0.02       # N(0, 1)


def test_initial_draws_in_the_documented_order():
    """Every bias, layer by layer, then every weight, row by row: rng.gauss(0.0, 1.0)."""
    rng = random.Random(21)
    biases = [[rng.gauss(0.0, 1.0) for _ in range(n)] for n in (4, 2)]
    weights = [[[rng.gauss(0.0, 1.0) for _ in range(3)] for _ in range(4)],
               [[rng.gauss(0.0, 1.0) for _ in range(4)] for _ in range(2)]]
    net = Network([3, 4, 2], seed=21)
    assert net.biases == biases and net.weights == weights


@pytest.mark.parametrize("step", [dict(l2=0.7), dict(l1=0.3), dict(l2=0.4, l1=0.2),
                                  dict(momentum=0.5, l1=0.3),
                                  dict(momentum=0.5, l2=0.6, l1=0.1)])
def test_fit_replays_as_the_reference_steps(step):
    """fit is exactly the reference's steps, in fit's own shuffled order, with every
    setting passed on (the momentum ones too)."""
    from purenet import reference as ref
    sizes, n, m, lr = [4, 3, 2], 12, 4, 0.5
    data = pairs_for(sizes, n=n, seed=1)
    fitted, replay = Network(sizes, seed=5), Network(sizes, seed=5)
    fitted.fit(data, 1, m, lr, **step)
    order = list(range(n))
    replay.rng.shuffle(order)                                  # the shuffle fit draws
    w, b = replay.weights, replay.biases
    vel = ([[[0.0] * len(r) for r in layer] for layer in w], [[0.0] * len(v) for v in b])
    l2, l1, mu = step.get("l2", 0.0), step.get("l1", 0.0), step.get("momentum", 0.0)
    for i in range(0, n, m):
        batch = [data[k] for k in order[i:i + m]]
        if mu:
            ref.momentum_update(w, b, vel, batch, lr, n, mu, l2, l1)
        else:
            ref.regularized_update(w, b, batch, lr, n, l2, l1)
    assert fitted.weights == w and fitted.biases == b


def test_same_seed_same_training_different_seed_different():
    data = pairs_for([6, 5, 3])
    nets = [Network([6, 5, 3], seed=s) for s in (1, 1, 2)]
    for n in nets:
        n.fit(data, epochs=3, batch_size=7, lr=1.5)
    assert nets[0].weights == nets[1].weights and nets[0].biases == nets[1].biases
    assert nets[0].weights != nets[2].weights


def test_the_shuffle_decides_the_result():
    # Same initial weights, but the second network's shuffles come from another stream.
    data = pairs_for([6, 5, 3])
    a, b = Network([6, 5, 3], seed=1), Network([6, 5, 3], seed=1)
    b.rng.seed(99)
    a.fit(data, 1, 5, 1.0)
    b.fit(data, 1, 5, 1.0)
    assert a.weights != b.weights


def test_weights_and_biases_can_be_read_and_set():
    net = Network([2, 3, 1], seed=0)
    w = [[[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]], [[1.0, -1.0, 0.5]]]
    b = [[0.0, 0.1, 0.2], [0.3]]
    net.weights = w
    net.biases = b
    assert net.weights == w and net.biases == b
    assert net.weights[1][0][2] == 0.5
    with pytest.raises(ValueError, match=r"weights\[0\] must be 3 rows of 2"):
        net.weights = [[[0.1, 0.2]], [[1.0, 2.0, 3.0]]]
    with pytest.raises(ValueError, match=r"biases\[1\] must have 1 values"):
        net.biases = [[0.0, 0.0, 0.0], [0.0, 0.0]]
    assert net.weights == w                      # a rejected assignment changes nothing
    before = net.feedforward([1.0, 1.0])
    copy = net.weights
    copy[0][0][0] = 99.0                         # reading gives the network's copy ...
    assert net.feedforward([1.0, 1.0]) == before  # ... so the engine is unchanged ...
    net.weights = copy                           # ... until it is assigned back
    assert net.weights[0][0][0] == 99.0
    assert net.feedforward([1.0, 1.0]) != before


@pytest.mark.parametrize("backend", ["python", pytest.param("c", marks=needs_c)])
def test_reading_weights_in_a_loop_copies_them_once(backend, monkeypatch):
    """net.weights[l][j][k] over every weight (Nielsen's loops) copies the parameters from
    the engine once, and again only after they change: fit, assignment, set_params."""
    net = Network([6, 5, 3], seed=1, backend=backend)
    reads = []
    real = net.engine.get_params
    monkeypatch.setattr(net.engine, "get_params", lambda: reads.append(1) or real())
    total = sum(net.weights[l][j][k] for l in range(2) for j in range(net.sizes[l + 1])
                for k in range(net.sizes[l]))
    assert len(reads) == 1 and total == sum(v for w in real()[0] for row in w for v in row)
    w0 = net.weights[0][0][0]
    net.fit([([0.5] * 6, [1.0, 0.0, 0.0])] * 4, 1, batch_size=2, lr=1.0)
    assert net.weights[0][0][0] != w0 and net.weights == real()[0] and len(reads) == 2
    net.set_params([[[0.0] * 6] * 5, [[0.0] * 5] * 3], [[0.0] * 5, [0.0] * 3])
    assert net.weights[0][0][0] == 0.0 and len(reads) == 3
    net.biases = [[1.0] * 5, [2.0] * 3]
    assert net.biases == [[1.0] * 5, [2.0] * 3] and net.weights[1][2][4] == 0.0


@pytest.mark.parametrize("backend", ["python", pytest.param("c", marks=needs_c)])
def test_fit_settings_are_those_of_the_last_fit(backend):
    net = Network([2, 3, 2], seed=0, backend=backend)
    assert net.fit_settings is None
    net.fit([([0.5, 0.1], [1.0, 0.0])] * 3, 1, batch_size=2, lr=0.5, l2=0.1)
    assert net.fit_settings == {"batch_size": 2, "lr": 0.5, "l2": 0.1, "l1": 0.0,
                                "momentum": 0.0, "early_stop": None, "lr_schedule": None,
                                "dropout": 0.0}


def test_bad_arguments_are_clear_errors():
    with pytest.raises(ValueError, match="at least two layers"):
        Network([3])
    with pytest.raises(ValueError, match="unknown backend 'gpu'"):
        Network([2, 2], backend="gpu")
    net = Network([2, 2, 2], seed=0)
    data = pairs_for([2, 2, 2], n=5)
    with pytest.raises(ValueError, match="batch size"):
        net.fit(data, 1, batch_size=0)
    with pytest.raises(ValueError, match="learning rate"):
        net.fit(data, 1, lr=0.0)
    with pytest.raises(ValueError, match="learning rate"):
        net.fit(data, 1, lr=float("nan"))
    with pytest.raises(DataError, match="3 inputs per sample but the network takes 2"):
        net.fit(pairs_for([3, 2, 2], n=5), 1)
    with pytest.raises(ValueError, match="input has 3 values"):
        net.feedforward([1.0, 2.0, 3.0])


def test_evaluate_takes_labels_or_one_hot():
    net = Network([4, 5, 3], seed=0)
    data = pairs_for([4, 5, 3], n=30)
    with_labels = [(x, y.index(1.0)) for x, y in data]
    hits = net.evaluate(data)
    assert hits == net.evaluate(with_labels)
    assert hits == sum(net.predict(x) == y.index(1.0) for x, y in data)


def test_fit_reports_each_epoch():
    data = pairs_for([4, 5, 3], n=30)
    seen = []
    recs = Network([4, 5, 3], seed=0).fit(data, 3, 4, 1.0, test=data, callback=seen.append)
    assert [r["epoch"] for r in recs] == [1, 2, 3] and seen == recs
    net = Network([4, 5, 3], seed=0)

    def check(r):                          # each record describes the network as it is then
        assert r["hits"] == net.evaluate(data) and r["accuracy"] == r["hits"] / 30
        assert r["samples_per_s"] == 30 / r["seconds"] and r["n_test"] == 30

    assert net.fit(data, 3, 4, 1.0, test=data, callback=check) == net.history
    assert [(r["epoch"], r["hits"]) for r in net.history] == [(r["epoch"], r["hits"]) for r in recs]


def test_pairs_and_compact_dataset_train_identically():
    data = pairs_for([5, 4, 3], n=25)
    ds = Dataset.from_pairs(data)
    a, b = Network([5, 4, 3], seed=3), Network([5, 4, 3], seed=3)
    a.fit(data, 2, 4, 2.0)
    b.fit(ds, 2, 4, 2.0)
    assert a.weights == b.weights and a.biases == b.biases


def test_pixel_dataset_reads_pixels_divided_by_255():
    ds = Dataset(3, 2, pixels=bytes([0, 128, 255, 1, 2, 3]), labels=bytes([1, 0]))
    assert ds.x(0) == [0.0, 128 / 255.0, 1.0] and ds.y(0) == [0.0, 1.0] and ds.label(1) == 0
    with pytest.raises(DataError, match="2 inputs but 3 labels"):
        Dataset(3, 2, pixels=bytes(6), labels=bytes(3))
    with pytest.raises(DataError, match="label 5 does not fit 2 output"):
        Dataset(3, 2, pixels=bytes(6), labels=bytes([0, 5]))


# --- model files --------------------------------------------------------------------

def test_save_then_load_is_bit_identical(tmp_path):
    net = Network([7, 6, 4, 3], seed=5)
    net.fit(pairs_for([7, 6, 4, 3]), 2, 5, 3.0)
    path = tmp_path / "model.json"
    net.save(path)
    back = purenet.load(path)
    assert back.sizes == net.sizes
    assert back.weights == net.weights and back.biases == net.biases
    for l in range(3):                             # == is not fooled by 0.0 vs -0.0
        for j, row in enumerate(net.weights[l]):
            for k, v in enumerate(row):
                assert math.copysign(1, v) == math.copysign(1, back.weights[l][j][k])
    doc = json.loads(path.read_text())
    assert doc["format"] == "purenet" and doc["version"] == 3
    assert doc["activation"] == "sigmoid" and doc["cost"] == "quadratic" and doc["init"] == "large"
    assert doc["meta"]["seed"] == 5 and doc["meta"]["epochs"] == 2
    assert [f.name for f in tmp_path.iterdir()] == ["model.json"]     # no temp file left


@pytest.mark.parametrize("mutate,message", [
    (lambda d: d.update(format="other"), "not a purenet model file"),
    (lambda d: d.update(version=99), "version 99 is not supported"),
    (lambda d: d.update(sizes=[3, "x"]), "sizes"),
    (lambda d: d.update(activation="softsign"), "activation 'softsign' is not supported"),
    (lambda d: d.update(cost=None), "cost None is not supported"),
    (lambda d: d.pop("init"), "init None is not supported in a version 3 file"),
    (lambda d: d.update(version=1, cost="cross-entropy"), "not supported in a version 1 file"),
    (lambda d: d.update(version=True), "version True is not supported"),
    (lambda d: d["weights"][0].pop(), r"weights\[0\] must be 2 rows"),
    (lambda d: d["weights"][0][0].__setitem__(0, "1.0"), "not a finite number"),
    (lambda d: d["biases"][1].__setitem__(0, True), "not a finite number"),
    (lambda d: d["biases"].pop(), "expected 2 weight matrices and 2 bias vectors"),
])
def test_load_rejects_bad_files(tmp_path, mutate, message):
    path = tmp_path / "m.json"
    Network([3, 2, 1], seed=0).save(path)
    doc = json.loads(path.read_text())
    mutate(doc)
    path.write_text(json.dumps(doc))
    with pytest.raises(ModelFileError, match=message):
        purenet.load(path)


@pytest.mark.parametrize("cost,activation,init", [
    ("cross-entropy", "tanh", "scaled"), ("log-likelihood", "relu", "large"),
    ("quadratic", "relu", "scaled")])
def test_chapter3_model_round_trip(tmp_path, cost, activation, init):
    net = Network([5, 6, 4], seed=2, cost=cost, activation=activation, init=init)
    data = pairs_for([5, 6, 4], n=20)
    net.fit(data, 2, 4, 0.5, l2=0.3, momentum=0.5)
    net.save(tmp_path / "m.json")
    back = purenet.load(tmp_path / "m.json")
    assert (back.cost_name, back.activation, back.init) == (cost, activation, init)
    assert back.weights == net.weights and back.biases == net.biases
    assert back.outputs(data) == net.outputs(data)
    assert back.meta["l2"] == 0.3 and back.meta["momentum"] == 0.5


@needs_c
def test_loaded_model_predicts_the_same_in_the_c_engine(tmp_path):
    net = Network([6, 9, 5], seed=4, cost="log-likelihood", activation="tanh", init="scaled")
    data = pairs_for([6, 9, 5], n=25)
    net.fit(data, 2, 5, 0.3, l1=0.2, momentum=0.3)
    net.save(tmp_path / "m.json")
    back = purenet.load(tmp_path / "m.json", backend="c")
    assert back.backend == "c" and back.weights == net.weights
    assert back.outputs(data) == net.outputs(data)
    assert back.cost(data, l2=1.0) == net.cost(data, l2=1.0)


def test_version_1_files_still_load(tmp_path):
    """A file written before chapter 3 (no "init"; sigmoid / quadratic) loads as the
    seed's kind of network and predicts exactly as before."""
    net = Network([4, 3, 2], seed=9)
    doc = {"format": "purenet", "version": 1, "sizes": [4, 3, 2], "activation": "sigmoid",
           "cost": "quadratic", "weights": net.weights, "biases": net.biases,
           "meta": {"seed": 9, "history": []}}
    path = tmp_path / "v1.json"
    path.write_text(json.dumps(doc))
    back = purenet.load(path)
    assert (back.cost_name, back.activation, back.init) == ("quadratic", "sigmoid", "large")
    x = [0.1, 0.0, 0.7, 0.2]
    assert back.feedforward(x) == net.feedforward(x)


def test_scaled_init_divides_the_same_draws_by_sqrt_n_in():
    large, scaled = Network([400, 30, 10], seed=6), Network([400, 30, 10], seed=6, init="scaled")
    assert scaled.biases == large.biases
    for l, n_in in enumerate((400, 30)):
        for row_l, row_s in zip(large.weights[l], scaled.weights[l]):
            assert row_s == [v / math.sqrt(n_in) for v in row_l]
    flat = [v for row in scaled.weights[0] for v in row]
    var = sum(v * v for v in flat) / len(flat)
    assert abs(var * 400 - 1.0) < 0.05                       # N(0, 1/400)


def test_chapter3_options_are_checked():
    with pytest.raises(ValueError, match="unknown cost 'hinge'"):
        Network([2, 2], cost="hinge")
    with pytest.raises(ValueError, match="unknown activation 'elu'"):
        Network([2, 2], activation="elu")
    with pytest.raises(ValueError, match="unknown init 'xavier'"):
        Network([2, 2], init="xavier")
    net = Network([2, 2, 2], seed=0)
    data = pairs_for([2, 2, 2], n=5)
    before = net.weights
    for kwargs, message in (({"l2": -1.0}, "l2 must be a finite number >= 0"),
                            ({"l1": float("inf")}, "l1 must be a finite number >= 0"),
                            ({"momentum": 1.0}, r"momentum must be a finite number in \[0, 1\)"),
                            ({"momentum": -0.1}, "momentum"), ({"l2": "1"}, "l2 must be a number")):
        with pytest.raises(ValueError, match=message):
            net.fit(data, 1, **kwargs)
    assert net.weights == before
    with pytest.raises(ValueError, match="l1 must be"):
        net.cost(data, l1=-2.0)


def test_cost_is_the_mean_plus_the_penalties():
    from purenet import reference as ref
    net = Network([3, 4, 2], seed=1, cost="cross-entropy")
    data = pairs_for([3, 4, 2], n=7)
    def cost(x, y):
        zs, acts = ref.forward_pass(net.weights, net.biases, x, cost=ref.CROSS_ENTROPY)
        return ref.cross_entropy_cost(acts[-1], y, zs[-1])
    mean = sum(cost(x, y) for x, y in data) / 7
    flat = [v for w in net.weights for row in w for v in row]
    want = mean + 2.0 / 14 * sum(v * v for v in flat) + 0.5 / 7 * sum(abs(v) for v in flat)
    assert math.isclose(net.cost(data, l2=2.0, l1=0.5), want, rel_tol=1e-12)
    assert math.isclose(net.cost(data), mean, rel_tol=1e-12)


def test_load_rejects_non_json_and_missing(tmp_path):
    p = tmp_path / "bad.json"
    p.write_bytes(b"\x80\x04garbage")
    with pytest.raises(ModelFileError, match="bad.json: not a purenet model file"):
        purenet.load(p)
    with pytest.raises(ModelFileError, match="cannot read"):
        purenet.load(tmp_path / "absent.json")


def test_save_refuses_nan_and_leaves_no_file(tmp_path):
    net = Network([2, 2], seed=0)
    net.engine.set_params(net.weights, [[float("nan"), 0.0]])   # as a diverged fit leaves it
    with pytest.raises(ValueError, match="NaN or infinity"):
        net.save(tmp_path / "m.json")
    assert list(tmp_path.iterdir()) == []


# --- real data ----------------------------------------------------------------------

@needs_mnist
def test_learns_real_mnist():
    from purenet import data
    train, test = data.load_mnist_files(mnist_dir())
    net = Network([784, 30, 10], seed=0)
    recs = net.fit(train.head(2000), epochs=4, batch_size=10, lr=3.0, test=test.head(1000))
    assert recs[-1]["hits"] >= 500, recs    # chance is 100 of 1,000; about 650 here
