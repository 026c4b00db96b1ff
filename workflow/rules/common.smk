import json
import os
import shlex
import sys
from pathlib import Path

from snakemake.utils import validate

validate(config, schema="../schemas/config.schema.yaml")

# The file names (xtalsym.paths) and the runtime keys (xtalsym.config) come from the package
# in this checkout, so the rules and the stages cannot disagree about either.
sys.path.insert(0, os.path.join(workflow.basedir, "src"))
from xtalsym import paths
from xtalsym.config import split_runtime

R = config["results"]
# A model set to null in an overlay config is removed (deep merges cannot delete keys).
MODELS = [m for m, spec in config["train"]["models"].items() if spec]
ENV = "../../envs/xtalsym.yaml"
ENV_TRAIN = "../../envs/train.yaml"
# Runtime keys (schema `x-runtime`: workers, chunk sizes, device, memory).
RUNTIME = json.dumps(split_runtime(config)[1], sort_keys=True)


# Jobs per data stage (config shards; xtalsym.shards). 1: the structures, patterns and shaping
# rules write their artifacts themselves; N > 1: N shard jobs each, and a gather job that
# writes the same artifact (structures: from what the shards cached; patterns and shaping: as
# virtual datasets over the shard files).
SHARDS = config["shards"]


wildcard_constraints:
    model="|".join(MODELS),
    mode="shaped|unshaped",
    shard=r"\d+",


def P(key):
    """The path of artifact ``key`` under the results directory (wildcards kept)."""
    return f"{R}/{paths.FILES[key]}"


def stage_params(*sections, drop=()):
    """The config slice a job depends on, as JSON for `xtalsym --params`.

    Rules pass only what they read, without runtime keys, so Snakemake's params trigger
    reruns a job exactly when its own results can change. ``drop``: dotted keys of the
    sections it does not read. `seed` is shared by every stage."""
    cfg, _ = split_runtime({"seed": config["seed"], **{k: config[k] for k in sections}})
    for dotted in drop:
        *head, last = dotted.split(".")
        node = cfg
        for part in head:
            node = node[part]
        node.pop(last, None)
    return json.dumps(cfg, sort_keys=True)


def runtime_args(wildcards, threads):
    """The command's runtime keys (a second --params) and its cores (--threads, which caps
    the processes and torch threads a job starts). A param function of `threads` is one
    Snakemake derives at run time and never counts as a rerun trigger, so changing a runtime
    key, or --cores, reruns nothing (tests/test_workflow.py checks both)."""
    return f"--params {shlex.quote(RUNTIME)} --threads {threads}"


def parent(path):
    """The directory of an artifact (stages that write several files take a directory)."""
    return os.path.dirname(path)


def report_config():
    """The whole config without runtime keys: the report shows it, so any change of a
    setting rebuilds the (cheap) report."""
    return json.dumps(split_runtime(config)[0], sort_keys=True)


def train_params(wildcards):
    """What one model's weights depend on: its own spec (not the other models'), the
    training settings, the class set, split.imbalance; simulation and shaping settings and
    the labels' symprec go into its model card."""
    p = json.loads(
        stage_params(
            "classes",
            "train",
            "patterns",
            "shaping",
            drop=["train.models", "shaping.modes"],
        )
    )
    p["train"]["models"] = {wildcards.model: config["train"]["models"][wildcards.model]}
    p["split"] = {"imbalance": config["split"]["imbalance"]}
    p["structures"] = {"symprec": config["structures"]["symprec"]}
    return json.dumps(p, sort_keys=True)


def shard_of(wildcards):
    """`--shard K/N` of a shard job."""
    return f"{wildcards.shard}/{SHARDS}"


def structures_shards(wildcards):
    """The structures shard manifests, in shard order (gather_structures)."""
    return expand(P("structures_shard"), shard=range(SHARDS))


def patterns_shards(wildcards):
    """The patterns shard files, in shard order (gather_patterns)."""
    return expand(P("patterns_shard"), shard=range(SHARDS))


def images_shards(wildcards):
    """The images shard files of one mode, in shard order (gather_shaping)."""
    return expand(P("images_shard"), mode=wildcards.mode, shard=range(SHARDS))


def model_images(wildcards):
    mode = config["train"]["models"][wildcards.model]["input"]
    return P("images").format(mode=mode)


def trained_modes():
    return sorted({config["train"]["models"][m]["input"] for m in MODELS})


# Image modes the run makes. With both, unshaped.h5 is a view of shaped.h5's channel S (the
# unshaped image bit for bit; rule view_unshaped), so only the shaped images are computed.
MODES = sorted(set(config["shaping"]["modes"]) | set(trained_modes()))
SHAPED_MODES = "shaped" if {"shaped", "unshaped"} <= set(MODES) else "|".join(MODES)


def robustness_outputs():
    if config["evaluate"]["robustness"]["enabled"]:
        return [P("robustness"), P("robustness_figure")]
    return []


def all_outputs():
    """The report, plus every image mode the config asks for (trained on or not)."""
    modes = config["shaping"]["modes"]
    return [P("report"), *(P("images").format(mode=m) for m in modes)]


def real_structure_files(wildcards=None):
    """The real-structure check's files (as `xtalsym evaluate --structures` reads them)."""
    d = Path(config["evaluate"]["real_structures"])
    if not d.is_dir():
        raise ValueError(f"evaluate.real_structures: {d} is not a directory")
    return sorted(
        str(p)
        for p in d.rglob("*")
        if p.is_file()
        and p.suffix.lower() not in {".md", ".rst"}
        and not any(part.startswith(".") for part in p.relative_to(d).parts)
    )


def real_outputs():
    """Each model's real-structure check metrics, or nothing when it is disabled."""
    if config["evaluate"]["real_structures"] is None:
        return []
    return expand(P("real_metrics"), model=MODELS)


# Learning curve (evaluate.learning_curve; workflow/rules/learning_curve.smk).
LC = f"{R}/learning_curve"


def learning_curve_settings():
    """evaluate.learning_curve, its models checked against train.models when enabled."""
    lc = config["evaluate"]["learning_curve"]
    unknown = [m for m in lc["models"] if m not in MODELS]
    if lc["enabled"] and unknown:
        raise ValueError(
            f"evaluate.learning_curve.models: {', '.join(unknown)} not in train.models"
            f" ({', '.join(MODELS)})"
        )
    return lc


def learning_curve_runs(pattern):
    """``pattern`` (with {model} and {n}) for every model and size of the curve, model-major."""
    lc = learning_curve_settings()
    return expand(pattern, model=lc["models"], n=lc["sizes"])


def learning_curve_eval_params():
    """What a curve point's evaluation reads: the class set and evaluate.top_k (so adding a
    size or a model reruns only the new points and the aggregation)."""
    p = json.loads(stage_params("classes"))
    p["evaluate"] = {"top_k": config["evaluate"]["top_k"]}
    return json.dumps(p, sort_keys=True)


def learning_curve_outputs():
    """The aggregated curve, for the report, when the learning curve is enabled."""
    if learning_curve_settings()["enabled"]:
        return [f"{LC}/learning_curve.csv"]
    return []
