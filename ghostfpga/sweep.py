"""``ghostfpga sweep``: test accuracy (and, with ``synth``, the core's area and Fmax) over
fixed-point formats and lane counts, each point a task on a Dask cluster.

The cluster is a ``distributed.LocalCluster`` (one process and one thread per worker) unless
the address of a running scheduler is given; its workers need ghostfpga installed. Every
finished point is written to a cache on disk under the hash of what it computes (config, data
set, task, ghostfpga version), so a re-run, or a point whose worker died, recomputes only what
is missing; a lost worker's point is retried on another.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from ghostfpga import __version__
from ghostfpga.config import Config, Hardware, Numerics

__all__ = ["Point", "SweepRow", "SweepResult", "sweep_points", "point_config", "run_sweep",
           "narrowest", "pareto", "plot_sweep", "DEFAULT_CACHE", "WEIGHT_INT_BITS"]

DEFAULT_CACHE = Path("build") / "sweep" / "cache"
WEIGHT_INT_BITS = 3   # weights in [-4, 4): 8-bit weights get 5 fraction bits


@dataclass(frozen=True)
class Point:
    weight_bits: int
    error_frac: int
    lanes: int

    def to_dict(self) -> dict:
        return {"weight_bits": self.weight_bits, "error_frac": self.error_frac,
                "lanes": self.lanes}


@dataclass
class SweepRow:
    """One point's result: its formats, its fixed model's accuracy, and (``--synth``) the
    core's area and Fmax."""
    weight_bits: int
    weight_frac: int
    error_frac: int
    lanes: int
    test_accuracy: float
    train_accuracy: float | None = None
    potential_bits: int | None = None
    seconds: float | None = None
    luts: int | None = None              # --synth: logic cells of the bare core
    fmax_mhz: float | None = None
    fits: bool | None = None

    def to_dict(self) -> dict:
        d = asdict(self)
        if self.luts is None:            # synthesis keys only for a sweep that synthesized
            del d["luts"], d["fmax_mhz"], d["fits"]
        return d


@dataclass
class SweepResult:
    """``ghostfpga sweep``'s result; ``to_dict`` / ``from_dict`` are its JSON."""
    dataset: str
    float_ghost_test_accuracy: float
    points: list[SweepRow]
    narrowest: SweepRow | None           # the narrowest formats within 0.5 points of float
    pareto: list[SweepRow]
    scheduler: str = ""
    config: dict | None = None

    def to_dict(self) -> dict:
        return {"scheduler": self.scheduler, "dataset": self.dataset,
                "float_ghost_test_accuracy": self.float_ghost_test_accuracy,
                "points": [r.to_dict() for r in self.points],
                "narrowest": None if self.narrowest is None else self.narrowest.to_dict(),
                "pareto": [r.to_dict() for r in self.pareto], "config": self.config}

    @classmethod
    def from_dict(cls, d) -> "SweepResult":
        """A sweep's JSON read back; ValueError naming what does not fit."""
        names = {f.name for f in fields(SweepRow)}

        def row(r, where: str) -> SweepRow:
            if not isinstance(r, dict):
                raise ValueError(f"{where} is not an object")
            try:
                return SweepRow(**{k: v for k, v in r.items() if k in names})
            except TypeError as exc:
                raise ValueError(f"{where}: {exc}") from None

        if not isinstance(d, dict) or not {"points", "narrowest",
                                           "float_ghost_test_accuracy"} <= set(d):
            raise ValueError("not the JSON of ghostfpga sweep (it needs points, narrowest and "
                             "float_ghost_test_accuracy)")
        if not isinstance(d["points"], list):
            raise ValueError("points is not a list")
        points = [row(r, f"points[{k}]") for k, r in enumerate(d["points"])]
        return cls(dataset=d.get("dataset", ""),
                   float_ghost_test_accuracy=d["float_ghost_test_accuracy"], points=points,
                   narrowest=None if d["narrowest"] is None else row(d["narrowest"],
                                                                     "narrowest"),
                   pareto=[row(r, "pareto") for r in d.get("pareto", [])],
                   scheduler=d.get("scheduler", ""), config=d.get("config"))


def sweep_points(weight_bits, error_fracs, lanes) -> list[Point]:
    return [Point(w, e, p) for w, e, p in itertools.product(weight_bits, error_fracs, lanes)]


def point_config(base: Config, point: Point, weight_int_bits: int = WEIGHT_INT_BITS) -> Config:
    """The base config with the point's formats: ``weight_int_bits`` integer bits (sign
    included) for weights, the base's integer bits for potentials."""
    n = base.numerics
    numerics = Numerics(**{**n.__dict__, "weight_bits": point.weight_bits,
                           "weight_frac": max(0, point.weight_bits - weight_int_bits),
                           "error_frac": point.error_frac,
                           "potential_bits": point.error_frac + n.potential_bits - n.error_frac})
    hardware = Hardware(**{**base.hardware.__dict__, "lanes": point.lanes})
    return base.replace(numerics=numerics, hardware=hardware)


def _key(task: str, config: Config, dataset: str) -> str:
    text = json.dumps({"task": task, "config": config.to_dict(), "dataset": dataset,
                       "version": __version__}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def _cached(cache: Path, key: str) -> dict | None:
    path = cache / f"{key}.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _store(cache: Path, key: str, result: dict) -> None:
    cache.mkdir(parents=True, exist_ok=True)
    tmp = cache / f".{key}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(result))
    tmp.replace(cache / f"{key}.json")      # atomic: a killed worker leaves no half file


def train_point(config_toml: str, dataset: str, normalize: bool, cache: str, key: str,
                model: str = "fixed") -> dict:
    """One point's training (a Dask task): the fixed model, or the float ghost reference."""
    import tomllib

    from ghostfpga.golden.fixed import FixedModel
    from ghostfpga.golden.ghost import GhostModel
    from ghostfpga.golden.training import train
    from ghostfpga.runs import prepare

    _maybe_die()
    config = Config.from_dict(tomllib.loads(config_toml))
    config, data = prepare(dataset, config, layers_given=True, normalize=normalize)
    net = FixedModel(config) if model == "fixed" else GhostModel(config)
    result = train(net, data)
    out = {"train_accuracy": result.train_accuracy, "test_accuracy": result.test_accuracy,
           "seconds": result.seconds}
    _store(Path(cache), key, out)
    return out


def synth_point(config_toml: str, cache: str, key: str) -> dict:
    """One point's synthesis of the bare core (a Dask task): logic cells and Fmax."""
    import tomllib

    from ghostfpga.boards.bitstream.synth import synthesize

    _maybe_die()
    config = Config.from_dict(tomllib.loads(config_toml))
    report = synthesize(config, Path(cache).parent / "synth" / key)
    out = {"luts": report.logic_cells, "fmax_mhz": report.fmax_mhz, "fits": report.fits,
           "seconds": report.seconds}
    _store(Path(cache), key, out)
    return out


def _maybe_die() -> None:
    """Test hook: when the file named by GHOSTFPGA_SWEEP_KILL exists, remove it and kill this
    worker process (a worker lost mid-point)."""
    marker = os.environ.get("GHOSTFPGA_SWEEP_KILL")
    if marker:
        try:
            os.remove(marker)
        except FileNotFoundError:
            return
        os.kill(os.getpid(), 9)


def _client(scheduler: str | None, workers: int):
    import logging

    from distributed import Client, LocalCluster

    if scheduler:
        return Client(scheduler), None
    # (the workers stay quiet: a stopped run's cancelled tasks and lost heartbeats are not news;
    # a task's error reaches the caller through its future)
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                           dashboard_address=None, silence_logs=logging.CRITICAL)
    return Client(cluster), cluster


def close_cluster(client, cluster, timeout: float = 10.0):
    """Shut the client and a local cluster down within ``timeout`` seconds each, quietly,
    also while a stop (Ctrl-C, SIGTERM) unwinds: Dask's own shutdown logs the tasks it
    cancels, and a second signal during it must not leave the workers behind."""
    import logging

    logging.getLogger("distributed").setLevel(logging.CRITICAL)
    for close in (lambda: client.close(timeout=timeout),
                  lambda: cluster is not None and cluster.close(timeout=timeout)):
        try:
            close()
        except BaseException:   # (shutting down: a late signal or a cancelled task)
            pass


def run_sweep(base: Config, dataset: str, points: list[Point], synth: bool = False,
              scheduler: str | None = None, workers: int = 2, cache: Path = DEFAULT_CACHE,
              normalize: bool = False, weight_int_bits: int = WEIGHT_INT_BITS,
              progress: bool = True, say=print) -> SweepResult:
    """Every point's result (and the float ghost reference), computed on the cluster or
    taken from the cache."""
    from distributed import as_completed
    from tqdm import tqdm

    cache = Path(cache).resolve()
    jobs = {}   # key -> (function, args, what)
    configs = {p: point_config(base, p, weight_int_bits) for p in points}
    for p, cfg in configs.items():
        jobs[_key("train", cfg, dataset)] = (train_point, (cfg.to_toml(), dataset, normalize),
                                             ("train", p))
        if synth:
            jobs[_key("synth", cfg, dataset)] = (synth_point, (cfg.to_toml(),), ("synth", p))
    reference = _key("float", base, dataset)
    jobs[reference] = (train_point, (base.to_toml(), dataset, normalize), ("float", None))
    results = {k: r for k in jobs if (r := _cached(cache, k)) is not None}
    todo = [k for k in jobs if k not in results]
    say(f"{len(jobs)} tasks, {len(results)} in the cache ({cache}), {len(todo)} to compute")
    address = "none: every point was cached"
    if todo:
        client, cluster = _client(scheduler, workers)
        address = client.scheduler.address
        try:
            futures = {}
            for k in todo:
                fn, args, (what, _) = jobs[k]
                extra = ("float",) if what == "float" else ()
                futures[client.submit(fn, *args, str(cache), k, *extra, key=f"{what}-{k}",
                                      pure=False, retries=2)] = k
            with tqdm(total=len(todo), desc="sweep", unit="point",
                      disable=None if progress else True, leave=False) as bar:
                for future in as_completed(futures):
                    results[futures[future]] = future.result()
                    bar.update(1)
        finally:
            close_cluster(client, cluster)
    rows = []
    for p, cfg in configs.items():
        trained = results[_key("train", cfg, dataset)]   # the cache's records (JSON)
        synthesized = results[_key("synth", cfg, dataset)] if synth else {}
        rows.append(SweepRow(
            p.weight_bits, cfg.numerics.weight_frac, p.error_frac, p.lanes,
            trained["test_accuracy"], trained["train_accuracy"], cfg.numerics.potential_bits,
            trained["seconds"], synthesized.get("luts"), synthesized.get("fmax_mhz"),
            synthesized.get("fits")))
    float_acc = results[reference]["test_accuracy"]
    return SweepResult(dataset=dataset, float_ghost_test_accuracy=float_acc, points=rows,
                       narrowest=narrowest(rows, float_acc), pareto=pareto(rows, synth),
                       scheduler=(scheduler or address) if todo else address,
                       config=base.to_dict())


def plot_sweep(result: SweepResult, path: str | Path) -> None:
    """Test accuracy against weight bits, one line per error format and lane count, with the
    float ghost model's accuracy and the 0.5-point band below it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    groups: dict[tuple, list[SweepRow]] = {}
    for r in result.points:
        groups.setdefault((r.error_frac, r.lanes), []).append(r)
    for (ef, lanes), rows in sorted(groups.items()):
        rows.sort(key=lambda r: r.weight_bits)
        ax.plot([r.weight_bits for r in rows], [100 * r.test_accuracy for r in rows],
                "o-", label=f"error_frac {ef}, {lanes} lanes")
    ref = 100 * result.float_ghost_test_accuracy
    ax.axhline(ref, color="black", linewidth=1, label="float ghost")
    ax.axhspan(ref - 0.5, ref, color="grey", alpha=0.2, label="within 0.5 points")
    ax.set_xlabel("weight bits")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(f"fixed-point formats on {result.dataset}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def narrowest(rows: list[SweepRow], float_acc: float,
              within: float = 0.005) -> SweepRow | None:
    """The narrowest formats (fewest weight bits, then error bits) within ``within`` of the
    float ghost model's test accuracy."""
    good = [r for r in rows if r.test_accuracy >= float_acc - within]
    return min(good, key=lambda r: (r.weight_bits, r.error_frac, r.lanes),
               default=None)


def pareto(rows: list[SweepRow], synth: bool) -> list[SweepRow]:
    """The points no other point beats on accuracy and cost at once (cost: weight bits and
    error bits, and logic cells with synthesis)."""
    def cost(r):
        return (r.weight_bits, r.error_frac) + ((r.luts,) if synth else ())

    def dominates(a, b):
        ca, cb = cost(a), cost(b)
        return (a.test_accuracy >= b.test_accuracy and all(x <= y for x, y in zip(ca, cb))
                and (a.test_accuracy > b.test_accuracy or ca != cb))

    return [r for r in rows if not any(dominates(o, r) for o in rows if o is not r)]
