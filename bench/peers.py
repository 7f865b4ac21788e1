"""Side by side, one machine, one invocation: jexp against Keras 3 on TensorFlow (the course's stack), Keras 3 on JAX and PyTorch.

    pip install -e '.[bench]'          # the peers: keras, tensorflow-cpu, torch (never the library's)
    python bench/peers.py mlp [--repeats 1] [--data-dir DIR] [--peers keras-tf,keras-jax,torch]
    python bench/peers.py cnn [--images 0] [--data-dir DIR] [--peers …]

``mlp``, the ex1b grid: the 9 MLPs of ex1b (depth 5, 20, 40 × ReLU, tanh, sigmoid; 32 units,
glorot-uniform kernels, zero biases), each trained from scratch for 3 epochs of plain SGD (lr 0.01,
batch 32, shuffled every epoch) on all 60,000 MNIST training images, then scored on the 10,000 test
images; every entry reports the 9 test accuracies, so nobody wins by doing less (jexp also scores
the test set after every epoch). Every entry runs in a fresh process, compilation and tracing
included ("cold"); jexp runs once more with JAX's persistent compilation cache filled by a run
before ("warm"). The clock starts when the data are in memory and stops when the last accuracy is
on the host. Peers train their 9 models one after the other, as the course's notebook does; jexp
as its grid does (one vmapped program per depth, the programs side by side).

``cnn``, the convolutional path: the digit CNN (architectures.MNIST_CNN: BatchNorm, dropout; all 60,000
MNIST training images, batch 128, 2 epochs) and the emotion CNN (architectures.EMOTION_CNN; all 28,709
FER2013 Training faces, batch 64, 3 epochs), AdamW lr 2e-3 and weight decay 1e-4, no augmentation, then
the accuracy on the evaluated split (MNIST test; FER2013 PublicTest). An entry must reach the stated
accuracy (MNIST_CNN ≥ 98 %, EMOTION_CNN ≥ 50 %) to be ranked: one that does not is marked "did not
learn", so that nobody wins by doing less. The peers' Keras model is jexp's own
.h5 export loaded by Keras (the same layers by construction); PyTorch's is built from the same layer
list. Every entry scores the test set after every epoch (jexp does, also before the first).
Reported: training examples per second of epoch 1 (compilation included) and epoch 2 (steady
state), each epoch's time including its test-set pass.
jexp's one-cycle learning-rate schedule is kept; the peers use a constant rate (it costs nothing
measurable).

A peer that is not installed is skipped, and the output says so. Writes artifacts/bench/peers.json
or peers_cnn.json (seconds, accuracies, ratios to jexp, the machine); `jexp report` shows them.
"""
import argparse
import importlib.metadata
import json
import os
import subprocess
import sys
import tempfile
import textwrap

MLP = dict(depths=(5, 20, 40), activations=("relu", "tanh", "sigmoid"), epochs=3, batch=32, lr=0.01, width=32)
CNN = {"MNIST_CNN": dict(dataset="mnist", batch=128, epochs=2, split="test", target=0.98),
       "EMOTION_CNN": dict(dataset="fer2013", batch=64, epochs=3, split="PublicTest", target=0.50)}
CNN_SETTINGS = dict(lr=2e-3, weight_decay=1e-4)

PRELUDE = """
import json, os, sys, time
import numpy as np
W = json.loads({work!r})
def done(**result):
    print("RESULT", json.dumps(result), flush=True)
def _time(f):
    t0 = time.perf_counter()
    f()
    return time.perf_counter() - t0
"""

# --- the ex1b grid ---------------------------------------------------------------------------------

MLP_DATA = """
from jexp.data import datasets, mnist
ds = mnist.load("mnist", W["data_dir"])
xtr, ytr, xte, yte = ds.train.x, ds.train.y, ds.test.x, ds.test.y
"""

MLP_JEXP = """
import jax
from jexp.nn import grid, train
d = train.make_data(ds.train, ds.test, jax.random.key(0), split="test")
t0 = time.perf_counter()
runs = grid.mlp_grid(d, depths=W["depths"], activations=W["activations"], seeds=(0,), epochs=W["epochs"],
                     width=W["width"], batch_size=W["batch"], learning_rate=W["lr"], grad_stats=False)
done(seconds=time.perf_counter() - t0, acc={f"{r.depth}-{r.activation}": float(r.final["test_acc"]) for r in runs})
"""

MLP_KERAS = """
import keras
keras.utils.set_random_seed(0)
t0 = time.perf_counter()
acc = {}
for depth in W["depths"]:
    for act in W["activations"]:
        model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten()]
                                 + [keras.layers.Dense(W["width"], act) for _ in range(depth)]
                                 + [keras.layers.Dense(10, "softmax")])
        model.compile(keras.optimizers.SGD(W["lr"]), "sparse_categorical_crossentropy")  # no metric: see KERAS_METRIC
        model.fit(xtr, ytr, batch_size=W["batch"], epochs=W["epochs"], shuffle=True, verbose=0)
        acc[f"{depth}-{act}"] = float(np.mean(model.predict(xte, batch_size=1000, verbose=0).argmax(-1) == yte))
done(seconds=time.perf_counter() - t0, acc=acc)
"""

MLP_TORCH = """
import torch
torch.manual_seed(0)
torch.set_num_threads(os.cpu_count())
x, y = torch.from_numpy(xtr.reshape(len(xtr), -1)), torch.from_numpy(ytr.astype(np.int64))
xt, yt = torch.from_numpy(xte.reshape(len(xte), -1)), torch.from_numpy(yte.astype(np.int64))
ACT = {"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh, "sigmoid": torch.nn.Sigmoid}
bs = W["batch"]
t0 = time.perf_counter()
acc = {}
for depth in W["depths"]:
    for act in W["activations"]:
        layers, width_in = [], 784
        for _ in range(depth):
            layers += [torch.nn.Linear(width_in, W["width"]), ACT[act]()]
            width_in = W["width"]
        model = torch.nn.Sequential(*layers, torch.nn.Linear(width_in, 10))
        for m in model:
            if isinstance(m, torch.nn.Linear):  # Keras' defaults, as jexp's
                torch.nn.init.xavier_uniform_(m.weight)
                torch.nn.init.zeros_(m.bias)
        opt = torch.optim.SGD(model.parameters(), lr=W["lr"])
        loss_fn = torch.nn.CrossEntropyLoss()
        for _ in range(W["epochs"]):
            perm = torch.randperm(len(x))
            for i in range(len(x) // bs):
                idx = perm[i * bs:(i + 1) * bs]
                opt.zero_grad(set_to_none=True)
                loss_fn(model(x[idx]), y[idx]).backward()
                opt.step()
        with torch.no_grad():
            acc[f"{depth}-{act}"] = float((model(xt).argmax(1) == yt).float().mean())
done(seconds=time.perf_counter() - t0, acc=acc)
"""

# --- the CNN epoch -------------------------------------------------------------------------------

CNN_DATA = """
from jexp.data import datasets, fer2013, mnist
from jexp.nn import architectures, nets
net = getattr(architectures, W["net"])
if W["dataset"] == "mnist":
    ds = mnist.load("mnist", W["data_dir"])
    train_split, test_split = ds.train, ds.test
else:
    faces = fer2013.load(W["data_dir"])
    train_split, test_split = faces.train, faces.val  # PublicTest
train_split = datasets.subset(train_split, W["images"] or None)
xtr, ytr, xte, yte = train_split.x, train_split.y, test_split.x, test_split.y
bs, n = W["batch"], len(ytr)
"""

CNN_JEXP = """
import jax
from jexp.nn import train
from jexp.runtime import rng
d = train.make_data(train_split, test_split, rng.key(0, "probe"), split="test")
class Clock:
    marks = []
    def update(self, n=1, note=None):
        self.marks.append(time.perf_counter())
t0 = time.perf_counter()
params, state, hist = train.fit_net(net, d, W["epochs"], batch_size=bs, lr=W["lr"], weight_decay=W["weight_decay"],
                                    progress=Clock())
ends = [t0] + Clock.marks
done(epoch_seconds=[b - a for a, b in zip(ends[:-1], ends[1:])], images=n // bs * bs,
     acc=float(hist["test_acc"][-1]))
"""

CNN_KERAS = """
import tempfile
import jax
import keras
from jexp.io import keras_h5
keras.utils.set_random_seed(0)
with tempfile.TemporaryDirectory() as tmp:
    keras_h5.save(f"{tmp}/m.h5", net, *nets.init(net, jax.random.key(0)))
    model = keras.models.load_model(f"{tmp}/m.h5", compile=False)
model.compile(keras.optimizers.AdamW(W["lr"], weight_decay=W["weight_decay"]),
              "sparse_categorical_crossentropy")  # no metric: see KERAS_METRIC
class Clock(keras.callbacks.Callback):
    marks = []
    def on_epoch_end(self, epoch, logs=None):
        self.marks.append(time.perf_counter())
m = n // bs * bs  # whole batches, as jexp
t0 = time.perf_counter()
model.fit(xtr[:m], ytr[:m], batch_size=bs, epochs=W["epochs"], shuffle=True, verbose=0, callbacks=[Clock()],
          validation_data=(xte, yte), validation_batch_size=500)  # the test set after every epoch, as jexp
acc = float(np.mean(model.predict(xte, batch_size=500, verbose=0).argmax(-1) == yte))
ends = [t0] + Clock.marks
done(epoch_seconds=[b - a for a, b in zip(ends[:-1], ends[1:])], images=m, acc=acc)
"""

CNN_TORCH_LAYERS = """
import torch
def torch_layers(net):
    out, shape = [], net.input_shape
    for layer in net.layers:
        kind = type(layer).__name__
        if kind == "Conv2D":
            assert layer.strides == (1, 1)
            out.append(torch.nn.Conv2d(shape[-1], layer.filters, layer.kernel_size, padding=layer.padding,
                                       bias=layer.use_bias))
            shape = (*shape[:2], layer.filters)
        elif kind == "Dense":
            out.append(torch.nn.LazyLinear(layer.units, bias=layer.use_bias))
            shape = (layer.units,)
        elif kind == "BatchNorm":
            bn = torch.nn.BatchNorm2d if len(shape) == 3 else torch.nn.BatchNorm1d
            out.append(bn(shape[-1], eps=layer.epsilon, momentum=1 - layer.momentum))
        elif kind == "Activation":
            out.append({"relu": torch.nn.ReLU}[layer.name]())
        elif kind == "MaxPool2D":
            out.append(torch.nn.MaxPool2d(layer.pool_size, layer.strides))
        elif kind == "Dropout":
            out.append(torch.nn.Dropout(layer.rate))
        elif kind == "GlobalAvgPool2D":
            out += [torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten()]
            shape = (shape[-1],)
        elif kind == "Flatten":
            out.append(torch.nn.Flatten())
            shape = (0,)
        else:
            raise NotImplementedError(kind)
        if getattr(layer, "activation", None) not in (None, "linear"):
            out.append({"relu": torch.nn.ReLU}[layer.activation]())
    return torch.nn.Sequential(*out)
"""

CNN_TORCH = CNN_TORCH_LAYERS + """
torch.manual_seed(0)
torch.set_num_threads(os.cpu_count())
model = torch_layers(net)
to_nchw = lambda a: torch.from_numpy(np.ascontiguousarray(a.transpose(0, 3, 1, 2)))
x, y, xt, yt = to_nchw(xtr), torch.from_numpy(ytr.astype(np.int64)), to_nchw(xte), torch.from_numpy(yte.astype(np.int64))
model(x[:2])  # materialises the lazy layers
opt = torch.optim.AdamW(model.parameters(), lr=W["lr"], weight_decay=W["weight_decay"])
loss_fn = torch.nn.CrossEntropyLoss()
def test_acc():  # the test set after every epoch, as jexp
    model.eval()
    with torch.no_grad():
        return float(sum((model(xt[i:i + 500]).argmax(1) == yt[i:i + 500]).sum() for i in range(0, len(yt), 500)) / len(yt))
t0, ends = time.perf_counter(), []
for _ in range(W["epochs"]):
    model.train()
    perm = torch.randperm(n)
    for i in range(n // bs):
        idx = perm[i * bs:(i + 1) * bs]
        opt.zero_grad(set_to_none=True)
        loss_fn(model(x[idx]), y[idx]).backward()
        opt.step()
    acc = test_acc()
    ends.append(time.perf_counter())
ends = [t0] + ends
done(epoch_seconds=[b - a for a, b in zip(ends[:-1], ends[1:])], images=n // bs * bs, acc=acc)
"""

MATMUL = """
import jax, jax.numpy as jnp
n = 4096
a = jax.random.normal(jax.random.key(0), (n, n), jnp.float32)
f = jax.jit(lambda a: a @ a)
f(a).block_until_ready()
best = min(_time(lambda: f(a).block_until_ready()) for _ in range(5))
done(gflops=2 * n ** 3 / best / 1e9)
"""


def grid_flop() -> float:
    """Multiply-adds of the grid's training (forward, then two for the backward pass) × 2 FLOP each."""
    macs = sum(784 * MLP["width"] + (d - 1) * MLP["width"] ** 2 + MLP["width"] * 10 for d in MLP["depths"])
    return 2 * 3 * macs * len(MLP["activations"]) * 60000 * MLP["epochs"]


# KERAS_METRIC: Keras 3.15.1 on TensorFlow 2.21 fails in fit() on any compiled metric ("dtype='string' is
# not a valid dtype for Keras type promotion"), so the Keras programs compile none and take the test
# accuracy from predict(); every entry scores the same way.

PEERS = {  # name -> (module that must import, environment)
    "keras-tf": ("tensorflow", {"KERAS_BACKEND": "tensorflow"}),
    "keras-jax": ("keras", {"KERAS_BACKEND": "jax"}),
    "torch": ("torch", {}),
}
PROGRAMS = {"mlp": (MLP_DATA, {"jexp": MLP_JEXP, "keras-tf": MLP_KERAS, "keras-jax": MLP_KERAS, "torch": MLP_TORCH}),
            "cnn": (CNN_DATA, {"jexp": CNN_JEXP, "keras-tf": CNN_KERAS, "keras-jax": CNN_KERAS, "torch": CNN_TORCH})}
LABELS = {"jexp": "jexp (cold)", "jexp-warm": "jexp (warm cache)", "keras-tf": "Keras 3 / TensorFlow",
          "keras-jax": "Keras 3 / JAX", "torch": "PyTorch (eager)"}


def installed(module: str) -> bool:
    return subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True).returncode == 0


def one(task: str, entry: str, work: dict, env: dict) -> dict:
    """Run ``entry``'s program for ``task`` in a fresh process; its RESULT line as a dict."""
    setup, programs = PROGRAMS.get(task, ("", {}))
    code = (textwrap.dedent(PRELUDE).format(work=json.dumps(work)) + textwrap.dedent(setup)
            + textwrap.dedent(programs.get(entry, entry)))
    base = {k: v for k, v in os.environ.items() if not k.startswith("JAX_COMPILATION_CACHE")}  # cold unless asked
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**base, "TF_CPP_MIN_LOG_LEVEL": "2", **env})
    line = [ln for ln in res.stdout.splitlines() if ln.startswith("RESULT ")]
    if res.returncode or not line:
        sys.exit(f"bench: {task}/{entry} failed:\n{res.stderr[-3000:]}")
    return json.loads(line[0][len("RESULT "):])


def available(peers: list[str]) -> tuple[list[str], dict]:
    ok, skipped = [], {}
    for name in peers:
        module, _ = PEERS[name]
        if installed(module):
            ok.append(name)
        else:
            skipped[name] = f"{module} not installed (pip install -e '.[bench]')"
            print(f"{name}: skipped, {skipped[name]}", flush=True)
    return ok, skipped


def bench_mlp(args, peers) -> dict:
    work = {**MLP, "data_dir": args.data_dir}
    gflops = one("matmul", MATMUL, {}, {})["gflops"]
    print(f"fp32 matmul 4096²: {gflops:.0f} GFLOP/s; the grid's {grid_flop():.2e} FLOP take at least "
          f"{grid_flop() / gflops / 1e9:.1f} s", flush=True)
    entries = {}
    with tempfile.TemporaryDirectory() as cache:
        warm = {"JAX_COMPILATION_CACHE_DIR": cache, "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
                "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "-1"}
        plan = [("jexp", "jexp", {}), ("jexp-fill", "jexp", warm), ("jexp-warm", "jexp", warm)]
        plan += [(p, p, PEERS[p][1]) for p in peers]
        for name, program, env in plan:
            runs = [one("mlp", program, work, env) for _ in range(1 if name == "jexp-fill" else args.repeats)]
            if name == "jexp-fill":  # fills the compilation cache for jexp-warm; not a result
                continue
            best = min(runs, key=lambda r: r["seconds"])
            entries[name] = {"seconds": best["seconds"], "all_seconds": [r["seconds"] for r in runs], "acc": best["acc"]}
            print(f"{LABELS[name]:24s} {best['seconds']:8.1f} s   mean test acc "
                  f"{100 * sum(best['acc'].values()) / len(best['acc']):.2f} %", flush=True)
    for e in entries.values():
        e["ratio_to_jexp"] = e["seconds"] / entries["jexp"]["seconds"]
    return {"work": f"{len(MLP['depths']) * len(MLP['activations'])} MLPs (depths {', '.join(map(str, MLP['depths']))} "
                    f"× {', '.join(MLP['activations'])}; width {MLP['width']}) × {MLP['epochs']} epochs of SGD lr "
                    f"{MLP['lr']}, batch {MLP['batch']}, 60,000 MNIST images", "entries": entries,
            "flop": grid_flop(), "matmul_gflops": gflops, "floor_seconds": grid_flop() / gflops / 1e9}


def bench_cnn(args, peers) -> dict:
    nets = {}
    for net, spec in CNN.items():
        work = {**CNN_SETTINGS, **spec, "net": net, "images": args.images, "data_dir": args.data_dir}
        entries = {}
        for name in ["jexp", *peers]:
            r = one("cnn", name, work, PEERS.get(name, (None, {}))[1])
            rates = [r["images"] / s for s in r["epoch_seconds"]]
            entries[name] = {**r, "examples_per_second": rates, "learned": r["acc"] >= spec["target"]}
            print(f"{net:12s} {LABELS[name].replace(' (cold)', ''):24s} " + "  ".join(
                f"epoch {i + 1}: {v:6.0f} ex/s" for i, v in enumerate(rates))
                + f"   {spec['split']} acc {100 * r['acc']:.2f} %" + ("" if entries[name]["learned"] else
                                                                       "  (did not learn: not ranked)"),
                flush=True)
        for e in entries.values():
            e["speed_vs_jexp"] = [a / b for a, b in zip(e["examples_per_second"], entries["jexp"]["examples_per_second"])]
        nets[net] = {"dataset": spec["dataset"], "batch": spec["batch"], "epochs": spec["epochs"],
                     "split": spec["split"], "target": spec["target"], "images": entries["jexp"]["images"],
                     "entries": entries}
    return {"work": f"AdamW (lr {CNN_SETTINGS['lr']}, weight decay {CNN_SETTINGS['weight_decay']}), no augmentation, "
                    "all training images", "nets": nets}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("task", choices=("mlp", "cnn"))
    ap.add_argument("--repeats", type=int, default=1, help="mlp: runs per entry; the fastest counts")
    ap.add_argument("--images", type=int, default=0, help="cnn: training images per epoch (0: all)")
    ap.add_argument("--data-dir", default=os.environ.get("JEXP_DATA_DIR", "../shared/data"))
    ap.add_argument("--peers", default=",".join(PEERS))
    ap.add_argument("--out", default=None, help="default: artifacts/bench/peers.json (mlp), peers_cnn.json (cnn)")
    args = ap.parse_args()
    unknown = set(args.peers.split(",")) - set(PEERS)
    if unknown:
        sys.exit(f"bench: unknown peer {', '.join(sorted(unknown))}; known: {', '.join(PEERS)}")
    peers, skipped = available(args.peers.split(","))
    result = (bench_mlp if args.task == "mlp" else bench_cnn)(args, peers)
    import jax

    from jexp.runtime.machine import cpu_name
    versions = {}
    for dist in ("keras", "tensorflow-cpu", "tensorflow", "torch"):
        try:
            versions[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            pass
    result.update(skipped=skipped, machine=f"{os.cpu_count()}-core CPU ({cpu_name()})", jax=jax.__version__,
                  versions=versions)
    out = args.out or f"artifacts/bench/{'peers' if args.task == 'mlp' else 'peers_cnn'}.json"
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        json.dump(result, f, indent=1)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
