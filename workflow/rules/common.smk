import json
import os

from snakemake.utils import validate

validate(config, schema="../schemas/config.schema.yaml")

R = config["results"]
# A model set to null in an overlay config is removed (deep merges cannot delete keys).
MODELS = [m for m, spec in config["train"]["models"].items() if spec]
ENV = "../../envs/xtalsym.yaml"
ENV_TRAIN = "../../envs/train.yaml"


wildcard_constraints:
    model="|".join(MODELS),
    mode="shaped|unshaped",


def stage_params(*sections):
    """The config slice a rule depends on, as JSON for `xtalsym --params`.

    Rules pass only what they read, so Snakemake's params trigger reruns a rule exactly
    when its own settings change. `seed` is shared by every stage."""
    return json.dumps(
        {"seed": config["seed"], **{k: config[k] for k in sections}}, sort_keys=True
    )


def parent(path):
    """The directory of an artifact (stages that write several files take a directory)."""
    return os.path.dirname(path)


def full_config():
    """The whole config: the report shows it, so any change rebuilds the (cheap) report."""
    return json.dumps(config, sort_keys=True)


def split_params():
    """The train rule reads split.imbalance only."""
    return {"split": {"imbalance": config["split"]["imbalance"]}}


def train_params():
    p = json.loads(stage_params("classes", "train", "patterns", "shaping"))
    p.update(split_params())
    return json.dumps(p, sort_keys=True)


def model_images(wildcards):
    mode = config["train"]["models"][wildcards.model]["input"]
    return f"{R}/shaping/{mode}.h5"


def robustness_outputs():
    if config["evaluate"]["robustness"]["enabled"]:
        return [f"{R}/evaluate/robustness.csv"]
    return []


def all_outputs():
    """The report, plus every image mode the config asks for (trained on or not)."""
    modes = config["shaping"]["modes"]
    return [f"{R}/report/index.html", *(f"{R}/shaping/{m}.h5" for m in modes)]


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


def evaluate_params():
    """stage_params("classes", "evaluate") without evaluate.learning_curve, which only the
    learning-curve rules read (changing its sizes must not rerun the main evaluation).
    """
    p = json.loads(stage_params("classes", "evaluate"))
    p["evaluate"].pop("learning_curve", None)
    return json.dumps(p, sort_keys=True)


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
