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
