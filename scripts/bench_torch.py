#!/usr/bin/python3
"""The vkcnn benchmark cases in PyTorch (CPU or CUDA), and the merge of both result files.

    bench_torch.py [--device cpu|cuda] [--threads N] [--reps N] [--warmup N] [--quick] [--cases RE]
                   [--system-malloc] [--conv SHAPES] [--pool SHAPES] [--models NAMES] [--batch N]
                   [--predict-batch N] [--goroutines COUNTS] [--json FILE] [--list]
    bench_torch.py merge --go vkcnn.json [--go ...] [--torch torch.json [--torch ...]] [--json merged.json]

The first form runs the cases of `vkcnn bench` (package internal/bench) with the
same names, shapes, repetition policy (warm-up, then timed repetitions, median
reported) and JSON schema, with backend "pytorch" and torch.set_num_threads set
to --threads. With --device cuda the tensors and models live on the first CUDA
device, TF32 is off for convolutions and matrix products (an fp32 comparison:
torch.backends.cudnn.allow_tf32 and torch.backends.cuda.matmul.allow_tf32 are
False), and each timing starts and ends with torch.cuda.synchronize(); the
device is named "cuda: <GPU name>" and threads is 0. It needs torch; merge does not: it prints one Markdown table of
both files (case, backend, device, ms, throughput, PyTorch's time divided by
this backend's) and writes the combined JSON.

On the CPU with glibc, the run first tells malloc to keep the memory it frees
(mallopt: no mmap below 32 MiB, no trimming), unless --system-malloc is
given. PyTorch's CPU allocator gives every tensor back to malloc when it is
freed, and glibc's defaults then return large blocks to the kernel, so each
step of a training case faults its activations' pages in again: on a 2-vCPU
machine that made the ResNet step 3x slower, time spent in the kernel rather
than in PyTorch (vkcnn keeps its buffers in pools). This is the effect of the
jemalloc or tcmalloc preload that PyTorch's performance guide recommends.

Keep MODELS in step with models/models.go and the shape grammar with
internal/bench/cases.go.
"""

import argparse
import datetime
import json
import os
import platform
import re
import statistics
import sys
import tempfile
import time

DEFAULT_CONV = [
    "N64_C1_K8_28x28_k3p1",
    "N32_C16_K32_14x14_k3p1",
    "N32_C64_K64_56x56_k3p1",
    "N64_C32_K64_14x14_k3p1",
    "N32_C64_K128_28x28_k3s2p1",
    "N32_C256_K64_14x14_k1",
]
DEFAULT_POOL = ["N32_C64_56x56_w2s2"]
# The presets of package models (models/models.go): name: (spec in vkcnn's
# nn.Parse grammar, per-sample input shape, loss, optimizer, learning rate,
# SGD momentum[, {"nesterov": bool, "weight_decay": float}]). The batch size is
# --batch, not the preset's.
MODELS = {
    "seed01": ("conv(1,5,3) sigmoid flatten dense(3380,100) sigmoid dense(100,2) sigmoid",
               (1, 28, 28), "bce", "sgd", 0.5, 0.0),
    "cnn": ("conv(1,8,3,p1) relu maxpool(2) conv(8,16,3,p1) relu maxpool(2) flatten "
            "dense(784,64) relu dense(64,10)", (1, 28, 28), "cross_entropy", "adam", 3e-3, 0.0),
    "lenet5": ("conv(1,6,5,p2) relu maxpool(2) conv(6,16,5) relu maxpool(2) flatten "
               "dense(400,120) relu dense(120,84) relu dense(84,10)", (1, 28, 28), "cross_entropy", "adam", 3e-3, 0.0),
    "resnet": ("conv(1,16,3,p1,nobias) batchnorm2d(16) relu residual[conv(16,32,3,s2,p1,nobias) batchnorm2d(32) relu conv(32,32,3,p1,nobias) batchnorm2d(32) | conv(16,32,1,s2,nobias) batchnorm2d(32)] relu residual[conv(32,64,3,s2,p1,nobias) batchnorm2d(64) relu conv(64,64,3,p1,nobias) batchnorm2d(64) | conv(32,64,1,s2,nobias) batchnorm2d(64)] relu flatten dense(3136,128) relu dense(128,10)", (1, 28, 28), "cross_entropy", "sgd", 0.1, 0.9, {"nesterov": True, "weight_decay": 5e-4}),
}
DEFAULT_MODELS = list(MODELS)
# The predict/ cases: Python threads sharing one model, each making
# PREDICT_CALLS inference calls per repetition (internal/bench/cases.go).
DEFAULT_PREDICT_BATCH = 8
DEFAULT_GOROUTINES = [1, 2, 4, 8]
PREDICT_CALLS = 4

# DEVICE is where the cases put their tensors and models: "cpu" or "cuda"
# (set by --device).
DEVICE = "cpu"

CONV_RE = re.compile(r"^N(\d+)_C(\d+)_K(\d+)_(\d+)x(\d+)_k(\d+)(?:x(\d+))?(?:s(\d+))?(?:p(\d+))?(?:d(\d+))?(?:g(\d+))?$")
POOL_RE = re.compile(r"^N(\d+)_C(\d+)_(\d+)x(\d+)_w(\d+)(?:x(\d+))?(?:s(\d+))?(?:p(\d+))?$")


class BenchError(Exception):
    """Bad input: a shape, model name or flag."""


def out_size(n, k, s, p, d):
    span = d * (k - 1) + 1
    if span > n + 2 * p:
        raise BenchError(f"kernel spans {span} but the padded input is {n + 2 * p}")
    return (n + 2 * p - span) // s + 1


def parse_conv(name):
    """Returns a dict with n, c, k, h, w, kh, kw, stride, pad, dil, groups, oh, ow."""
    m = CONV_RE.match(name)
    if not m:
        raise BenchError(f"convolution shape {name!r}, expected N<batch>_C<in>_K<out>_<H>x<W>_k<size>"
                         "[x<width>][s<stride>][p<pad>][d<dilation>][g<groups>], e.g. N32_C64_K128_28x28_k3s2p1")
    v = [int(x) if x is not None else None for x in m.groups()]
    g = dict(n=v[0], c=v[1], k=v[2], h=v[3], w=v[4], kh=v[5], kw=v[6] if v[6] is not None else v[5],
             stride=v[7] if v[7] is not None else 1, pad=v[8] or 0, dil=v[9] if v[9] is not None else 1,
             groups=v[10] if v[10] is not None else 1)
    if min(g["n"], g["c"], g["k"], g["h"], g["w"], g["kh"], g["kw"], g["stride"], g["dil"], g["groups"]) < 1:
        raise BenchError(f"convolution shape {name!r}: every size, stride, dilation and group count must be ≥ 1")
    if g["c"] % g["groups"] or g["k"] % g["groups"]:
        raise BenchError(f"convolution shape {name!r}: groups {g['groups']} must divide {g['c']} and {g['k']}")
    try:
        g["oh"] = out_size(g["h"], g["kh"], g["stride"], g["pad"], g["dil"])
        g["ow"] = out_size(g["w"], g["kw"], g["stride"], g["pad"], g["dil"])
    except BenchError as e:
        raise BenchError(f"convolution shape {name!r}: {e}") from None
    return g


def parse_pool(name):
    """Returns a dict with n, c, h, w, kh, kw, stride (pair), pad, oh, ow."""
    m = POOL_RE.match(name)
    if not m:
        raise BenchError(f"pooling shape {name!r}, expected N<batch>_C<channels>_<H>x<W>_w<window>"
                         "[x<width>][s<stride>][p<pad>], e.g. N32_C64_56x56_w2s2")
    v = [int(x) if x is not None else None for x in m.groups()]
    kh = v[4]
    kw = v[5] if v[5] is not None else kh
    stride = (v[6], v[6]) if v[6] is not None else (kh, kw)
    g = dict(n=v[0], c=v[1], h=v[2], w=v[3], kh=kh, kw=kw, stride=stride, pad=v[7] or 0)
    if min(g["n"], g["c"], g["h"], g["w"], kh, kw, *stride) < 1 or 2 * g["pad"] > min(kh, kw):
        raise BenchError(f"pooling shape {name!r}: sizes and strides must be ≥ 1, padding at most half the window")
    try:
        g["oh"] = out_size(g["h"], kh, stride[0], g["pad"], 1)
        g["ow"] = out_size(g["w"], kw, stride[1], g["pad"], 1)
    except BenchError as e:
        raise BenchError(f"pooling shape {name!r}: {e}") from None
    return g


def conv_flops(g):
    return 2.0 * g["n"] * g["k"] * g["oh"] * g["ow"] * (g["c"] // g["groups"]) * g["kh"] * g["kw"]


def build_cases(convs, pools, models, batch, predict_batch=DEFAULT_PREDICT_BATCH, goroutines=DEFAULT_GOROUTINES):
    """Returns [(name, metric, work, setup)] in vkcnn bench's order; setup()
    returns the step function. metric is "gflops", "gb_per_s" or "images_per_s"."""
    cases = []
    for s in convs:
        g = parse_conv(s)
        cases.append(("conv_fwd/" + s, "gflops", conv_flops(g), lambda g=g: conv_setup(g, False)))
        cases.append(("conv_train/" + s, "gflops", 3 * conv_flops(g), lambda g=g: conv_setup(g, True)))
    for s in pools:
        g = parse_pool(s)
        nx, ny = g["n"] * g["c"] * g["h"] * g["w"], g["n"] * g["c"] * g["oh"] * g["ow"]
        for op in ("maxpool", "avgpool"):
            train_elems = nx + ny + ny + nx + (nx if op == "maxpool" else 0)
            cases.append((f"{op}_fwd/{s}", "gb_per_s", 4.0 * (nx + ny), lambda g=g, op=op: pool_setup(g, op, False)))
            cases.append((f"{op}_train/{s}", "gb_per_s", 4.0 * train_elems, lambda g=g, op=op: pool_setup(g, op, True)))
    for name in models:
        if name not in MODELS:
            raise BenchError(f"model {name!r} unknown, expected one of {', '.join(sorted(MODELS))}")
        cases.append(("train/" + name, "images_per_s", float(batch), lambda name=name: train_setup(name, batch)))
    for name in models:
        for g in goroutines:
            cases.append((f"predict/{name}_b{predict_batch}_g{g}", "images_per_s", float(g * PREDICT_CALLS * predict_batch),
                          lambda name=name, g=g: predict_setup(name, predict_batch, g)))
    return cases


def uniform(*shape):
    import torch
    return torch.rand(*shape, device=DEVICE) * 2 - 1


def conv_setup(g, train):
    import torch
    import torch.nn.functional as F
    x = uniform(g["n"], g["c"], g["h"], g["w"])
    w = uniform(g["k"], g["c"] // g["groups"], g["kh"], g["kw"])
    b = uniform(g["k"])
    dy = uniform(g["n"], g["k"], g["oh"], g["ow"])
    kw = dict(stride=g["stride"], padding=g["pad"], dilation=g["dil"], groups=g["groups"])
    if not train:
        def step():
            with torch.no_grad():
                F.conv2d(x, w, b, **kw)
        return step
    for t in (x, w, b):
        t.requires_grad_(True)

    def step():  # forward, then dx, dw and db
        y = F.conv2d(x, w, b, **kw)
        torch.autograd.grad(y, (x, w, b), dy)
    return step


def pool_setup(g, op, train):
    import torch
    import torch.nn.functional as F
    x = uniform(g["n"], g["c"], g["h"], g["w"])
    dy = uniform(g["n"], g["c"], g["oh"], g["ow"])
    k, s, p = (g["kh"], g["kw"]), g["stride"], g["pad"]
    if op == "maxpool":
        def fwd():
            return F.max_pool2d(x, k, s, p)
    else:
        def fwd():
            return F.avg_pool2d(x, k, s, p, count_include_pad=True)
    if not train:
        def step():
            with torch.no_grad():
                fwd()
        return step
    x.requires_grad_(True)

    def step():
        torch.autograd.grad(fwd(), x, dy)
    return step


def split_spec(spec):
    """Splits a spec into its top-level layers (brackets may hold spaces)."""
    toks, depth, cur = [], 0, ""
    for ch in spec:
        if ch.isspace() and depth == 0:
            if cur:
                toks.append(cur)
            cur = ""
            continue
        depth += ch == "[" or ch == "("
        depth -= ch == "]" or ch == ")"
        cur += ch
    if cur:
        toks.append(cur)
    return toks


def parse_model(spec):
    """Builds a torch.nn.Sequential from the subset of vkcnn's spec grammar the
    benchmark models use; residual[body | shortcut] becomes a module with
    body and shortcut submodules, as vkcnn names its tensors."""
    import torch.nn as nn

    class Residual(nn.Module):
        def __init__(self, body, shortcut):
            super().__init__()
            self.body, self.shortcut = body, shortcut

        def forward(self, x):
            return self.body(x) + self.shortcut(x)

    class GAP(nn.Module):
        def forward(self, x):
            return x.mean(dim=(2, 3))

    layers = []
    for tok in split_spec(spec):
        if tok.startswith("residual[") and tok.endswith("]"):
            parts, depth, start, inner = [], 0, 0, tok[len("residual["):-1]
            for i, ch in enumerate(inner):
                depth += ch in "[("
                depth -= ch in "])"
                if ch == "|" and depth == 0:
                    parts.append(inner[start:i])
                    start = i + 1
            parts.append(inner[start:])
            short = parse_model(parts[1]) if len(parts) > 1 else nn.Sequential()
            layers.append(Residual(parse_model(parts[0]), short))
            continue
        m = re.match(r"^(\w+)(?:\((.*)\))?$", tok)
        if not m:
            raise BenchError(f"model spec layer {tok!r}, expected name or name(args)")
        name = m.group(1)
        args = [x.strip() for x in m.group(2).split(",")] if m.group(2) else []
        if name == "conv":
            opts = {"s": 1, "p": 0}
            for a in args[3:]:
                if a != "nobias":
                    opts[a[0]] = int(a[1:])
            layers.append(nn.Conv2d(int(args[0]), int(args[1]), int(args[2]), stride=opts["s"], padding=opts["p"],
                                    bias="nobias" not in args[3:]))
        elif name == "maxpool":
            layers.append(nn.MaxPool2d(int(args[0])))
        elif name == "dense":
            layers.append(nn.Linear(int(args[0]), int(args[1])))
        elif name == "batchnorm2d":
            layers.append(nn.BatchNorm2d(int(args[0])))
        elif name == "batchnorm1d":
            layers.append(nn.BatchNorm1d(int(args[0])))
        elif name == "gap":
            layers.append(GAP())
        elif name in ("relu", "sigmoid", "tanh", "flatten", "silu"):
            layers.append({"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "flatten": nn.Flatten,
                           "silu": nn.SiLU}[name]())
        else:
            raise BenchError(f"model spec layer {tok!r} is not supported by bench_torch.py")
    return nn.Sequential(*layers)


def train_setup(name, batch):
    """One full step like nn.Sequential.Fit on one batch: forward, loss,
    backward, the preset's optimizer step, read back the loss and the number
    of correct predictions."""
    import torch
    spec, shape, loss_name, opt_name, lr, momentum, *extra = MODELS[name]
    extra = extra[0] if extra else {}
    model = parse_model(spec).to(DEVICE)
    if opt_name == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=extra.get("weight_decay", 0))
    elif opt_name == "adamw":
        opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=extra.get("weight_decay", 0.01))
    else:
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum,
                              nesterov=extra.get("nesterov", False), weight_decay=extra.get("weight_decay", 0))
    x = torch.rand(batch, *shape, device=DEVICE)
    with torch.no_grad():
        classes = max(model(x[:1]).shape[1], 2)
    labels = torch.randint(0, classes, (batch,), device=DEVICE)
    if loss_name == "bce":
        crit, target = torch.nn.BCELoss(), torch.nn.functional.one_hot(labels, classes).float()
    else:
        crit, target = torch.nn.CrossEntropyLoss(), labels

    def step():
        opt.zero_grad(set_to_none=True)
        out = model(x)
        loss = crit(out, target)
        loss.backward()
        opt.step()
        loss.item()
        (out.detach().argmax(1) == labels).sum().item()
    return step


def predict_setup(name, batch, threads):
    """Concurrent inference like the predict/ cases of vkcnn bench: `threads`
    Python threads share one model in eval mode, each running PREDICT_CALLS
    forward passes (no_grad) of its own batch and reading back the
    probabilities; PyTorch releases the GIL inside its ops."""
    import threading
    import torch
    spec = MODELS[name][0]
    model = parse_model(spec).eval()
    xs = [torch.rand(batch, *MODELS[name][1]) for _ in range(threads)]

    def work(x):
        with torch.no_grad():
            for _ in range(PREDICT_CALLS):
                out = model(x)
                (out if out.shape[1] == 1 else torch.softmax(out, 1)).numpy()

    def step():
        ts = [threading.Thread(target=work, args=(x,)) for x in xs]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
    return step


def keep_freed_memory():
    """Sets glibc's malloc to keep freed memory in the process (large blocks
    from the heap, never trimmed); returns whether it could (False without
    glibc)."""
    try:
        import ctypes
        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_mmap_threshold = -1, -3
        return libc.mallopt(m_mmap_threshold, 32 << 20) == 1 and libc.mallopt(m_trim_threshold, 1 << 30) == 1
    except (OSError, AttributeError):
        return False


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k.strip() == "model name":
                    return v.strip()
    except OSError:
        pass
    return platform.processor()


def fmt_num(v):
    if v >= 100:
        return f"{v:.0f}"
    if v >= 10:
        return f"{v:.1f}"
    if v >= 1:
        return f"{v:.2f}"
    return f"{v:.3f}"


UNITS = (("gflops", "GFLOP/s"), ("gb_per_s", "GB/s"), ("images_per_s", "images/s"))


def throughput(r):
    for key, unit in UNITS:
        if r.get(key):
            return f"{fmt_num(r[key])} {unit}"
    return ""


def cell(s):
    return str(s).replace("|", "\\|").replace("\n", " ")


def write_json(path, obj):
    """Writes obj to path through a temporary file renamed into place."""
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".tmp", dir=d)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(obj, f, indent=2)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def run(argv):
    ap = argparse.ArgumentParser(prog="bench_torch.py", description="vkcnn's benchmark cases in PyTorch (CPU or CUDA).")
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                    help="run on the CPU (default) or the first CUDA device, with TF32 off")
    ap.add_argument("--threads", type=int, default=os.cpu_count(), help="torch.set_num_threads (default: all cores)")
    ap.add_argument("--reps", type=int, default=None, help="timed repetitions per case; the median is reported (default 10)")
    ap.add_argument("--warmup", type=int, default=None, help="untimed warm-up repetitions (default 2)")
    ap.add_argument("--quick", action="store_true", help="3 repetitions after 1 warm-up unless --reps/--warmup are given")
    ap.add_argument("--batch", type=int, default=64, help="training batch size (default 64)")
    ap.add_argument("--conv", default=",".join(DEFAULT_CONV), help="comma-separated convolution shapes")
    ap.add_argument("--pool", default=",".join(DEFAULT_POOL), help="comma-separated pooling shapes")
    ap.add_argument("--models", default=",".join(DEFAULT_MODELS), help="comma-separated models: " + ", ".join(sorted(MODELS)))
    ap.add_argument("--predict-batch", type=int, default=DEFAULT_PREDICT_BATCH,
                    help=f"images per inference call in the predict/ cases (default {DEFAULT_PREDICT_BATCH})")
    ap.add_argument("--goroutines", default=",".join(map(str, DEFAULT_GOROUTINES)),
                    help="comma-separated thread counts of the predict/ cases (default 1,2,4,8)")
    ap.add_argument("--cases", default="", help="only cases whose name matches this regular expression")
    ap.add_argument("--json", help="also write the results as JSON to this file")
    ap.add_argument("--system-malloc", action="store_true",
                    help="leave glibc's malloc settings alone (by default freed memory stays in the process)")
    ap.add_argument("--list", action="store_true", help="list the selected cases and exit")
    ap.add_argument("--quiet", action="store_true", help="no progress on stderr")
    a = ap.parse_args(argv)
    reps = a.reps if a.reps is not None else (3 if a.quick else 10)
    warmup = a.warmup if a.warmup is not None else (1 if a.quick else 2)
    for name, v, lo in (("threads", a.threads, 1), ("reps", reps, 1), ("warmup", warmup, 0), ("batch", a.batch, 1),
                        ("predict-batch", a.predict_batch, 1)):
        if v < lo:
            raise BenchError(f"--{name} {v}, expected ≥ {lo}")
    split = lambda s: [x.strip() for x in s.split(",") if x.strip()]
    try:
        goroutines = [int(x) for x in split(a.goroutines)]
    except ValueError:
        raise BenchError(f"--goroutines {a.goroutines!r}, expected comma-separated counts ≥ 1") from None
    if any(g < 1 for g in goroutines):
        raise BenchError(f"--goroutines {a.goroutines!r}, expected comma-separated counts ≥ 1")
    try:
        pattern = re.compile(a.cases)
    except re.error as e:
        raise BenchError(f"--cases {a.cases!r} is not a regular expression ({e})") from None
    cases = [c for c in build_cases(split(a.conv), split(a.pool), split(a.models), a.batch, a.predict_batch, goroutines)
             if pattern.search(c[0])]
    if not cases:
        raise BenchError(f"no case matches --cases {a.cases!r}; see --list")
    if a.list:
        print("\n".join(c[0] for c in cases))
        return 0

    malloc = ""
    if a.device == "cpu" and not a.system_malloc:
        malloc = ", malloc keeps freed memory" if keep_freed_memory() else ", system malloc (mallopt unavailable)"
    import torch
    global DEVICE
    DEVICE = a.device
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    device = f"cpu ({a.threads} thread{'s' if a.threads != 1 else ''})"
    threads = a.threads
    sync = lambda: None
    if DEVICE == "cuda":
        if not torch.cuda.is_available():
            raise BenchError("--device cuda, but torch.cuda.is_available() is False (no CUDA device or a CPU-only torch)")
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False
        device, threads, sync = f"cuda: {torch.cuda.get_device_name(0)}", 0, torch.cuda.synchronize
    rep = dict(tool="pytorch", date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
               runtime=f"torch {torch.__version__}, python {platform.python_version()} {sys.platform}/{platform.machine()}"
                       + "".join(f", {k}={os.environ[k]}" for k in ("OMP_WAIT_POLICY", "OMP_NUM_THREADS") if k in os.environ)
                       + malloc
                       + (f", CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}, TF32 off" if DEVICE == "cuda" else ""),
               cpu=cpu_model(), threads=threads, reps=reps, warmup=warmup, batch=a.batch, dtype="float32", results=[])
    failed = 0
    for name, metric, work, setup in cases:
        r = dict(case=name, backend="pytorch", device=device, threads=threads, reps=reps, warmup=warmup)
        try:
            step = setup()
            times = []
            for i in range(warmup + reps):
                sync()
                t0 = time.perf_counter_ns()
                step()
                sync()
                if i >= warmup:
                    times.append((time.perf_counter_ns() - t0) / 1e6)
            times.sort()
            r.update(ms=statistics.median(times), ms_min=times[0], ms_max=times[-1])
            r[metric] = work / (r["ms"] / 1e3) / (1 if metric == "images_per_s" else 1e9)
            msg = f"{fmt_num(r['ms'])} ms, {throughput(r)}"
        except Exception as e:  # a failing case must not stop the others
            failed += 1
            r.update(ms=0, ms_min=0, ms_max=0, error=f"{type(e).__name__}: {e}")
            msg = "error: " + r["error"]
        rep["results"].append(r)
        if not a.quiet:
            print(f"[pytorch {device}] {name}: {msg}", file=sys.stderr)
    on = f"{a.threads} threads" if DEVICE == "cpu" else f"{device}, TF32 off"
    print(f"PyTorch {torch.__version__}: float32, {on}, median of {reps} repetitions after "
          f"{warmup} warm-up, training batch {a.batch}\n")
    print("| case | backend | device | threads | ms | min–max ms | throughput |")
    print("|---|---|---|--:|--:|--:|--:|")
    for r in rep["results"]:
        if r.get("error"):
            print(f"| {r['case']} | pytorch | {device} | {threads or '–'} | error | | {cell(r['error'])} |")
        else:
            print(f"| {r['case']} | pytorch | {device} | {threads or '–'} | {fmt_num(r['ms'])} | "
                  f"{fmt_num(r['ms_min'])}–{fmt_num(r['ms_max'])} | {throughput(r)} |")
    if a.json:
        write_json(a.json, rep)
    return 1 if failed else 0


def pick_rounds(reports):
    """Combines the reports of alternating rounds of one tool: for each
    (case, backend, device) the row of the round whose median time is the
    median of the rounds' (the lower one of the middle two for an even count),
    with "rounds" set to the count and "ms_rounds" to every round's median.
    Rows are in the first report's order; a case that failed in any round
    keeps its first error."""
    if len(reports) == 1:
        return list(reports[0]["results"])
    groups = {}  # in first-seen order
    for rep in reports:
        for r in rep["results"]:
            groups.setdefault((r["case"], r["backend"], r["device"]), []).append(r)
    rows = []
    for g in groups.values():
        bad = [r for r in g if r.get("error")]
        if bad:
            rows.append(bad[0])
            continue
        ranked = sorted(g, key=lambda r: r["ms"])
        r = dict(ranked[(len(ranked) - 1) // 2])
        r["rounds"] = len(g)
        r["ms_rounds"] = [x["ms"] for x in g]
        rows.append(r)
    return rows


def merge(argv):
    ap = argparse.ArgumentParser(prog="bench_torch.py merge", description="Merge vkcnn and PyTorch result files.")
    ap.add_argument("--go", required=True, action="append",
                    help="vkcnn bench --json file; repeat it for the rounds of bench.sh --rounds")
    ap.add_argument("--torch", action="append", help="bench_torch.py --json file (optional; repeatable like --go)")
    ap.add_argument("--json", help="write the combined results to this file")
    a = ap.parse_args(argv)
    gos = []
    for path in a.go:
        with open(path) as f:
            gos.append(json.load(f))
    torches = []
    for path in a.torch or []:
        with open(path) as f:
            torches.append(json.load(f))
    go = gos[0]
    torch_rep = torches[0] if torches else None
    rows = pick_rounds(gos) + (pick_rounds(torches) if torches else [])
    ref = {r["case"]: r["ms"] for r in rows if r["backend"] == "pytorch" and not r.get("error") and r["ms"] > 0}
    order = []
    for r in rows:
        if r["case"] not in order:
            order.append(r["case"])
    merged = []
    for case in order:
        group = [r for r in rows if r["case"] == case]
        group.sort(key=lambda r: r["backend"] != "pytorch")  # PyTorch first, then run order
        for r in group:
            r = dict(r)
            if r["backend"] != "pytorch" and case in ref and not r.get("error") and r["ms"] > 0:
                r["vs_pytorch"] = ref[case] / r["ms"]
            merged.append(r)

    def meta(rep):
        return {k: v for k, v in rep.items() if k != "results"}

    head = (f"{go['dtype']}, median of {go['reps']} repetitions after {go['warmup']} warm-up, "
            f"training batch {go['batch']}, {go['threads']} CPU threads; CPU: {go.get('cpu') or 'unknown'}; "
            f"vkcnn {go['runtime']}")
    if len(gos) > 1 or len(torches) > 1:
        head += (f"; {len(gos)} alternating rounds (vkcnn, then PyTorch, each round), each row the round whose median "
                 f"is the median of its rounds'")
    if torch_rep:
        head += f"; PyTorch: {torch_rep['runtime']}, {torch_rep['threads']} threads"
    print(head + "\n")
    print("| case | backend | device | ms | throughput | vs PyTorch |")
    print("|---|---|---|--:|--:|--:|")
    for r in merged:
        if r.get("error"):
            print(f"| {r['case']} | {r['backend']} | {cell(r['device'])} | error | {cell(r['error'])} | |")
            continue
        vs = ""
        if "vs_pytorch" in r:
            v = r["vs_pytorch"]
            vs = (fmt_num(v) if v >= 0.01 else f"{v:.1g}") + "×"
        print(f"| {r['case']} | {r['backend']} | {cell(r['device'])} | {fmt_num(r['ms'])} | {throughput(r)} | {vs} |")
    if torch_rep:
        print("\nvs PyTorch: PyTorch's median time divided by this backend's (above 1: faster than PyTorch).")
    for n in go.get("notes") or []:
        print(f"\nNote: {n}")
    if a.json:
        write_json(a.json, dict(tool="vkcnn+pytorch", vkcnn=meta(go), pytorch=meta(torch_rep) if torch_rep else None,
                                results=merged))
    return 0


def main(argv):
    try:
        if argv and argv[0] == "merge":
            return merge(argv[1:])
        return run(argv)
    except BenchError as e:
        print(f"bench_torch.py: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
