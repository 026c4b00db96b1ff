# xtalsym: crystal structures -> 2D diffraction patterns -> XRD-Edge images -> split
# -> MSDN and baselines -> evaluation report. Every rule is a thin call into the
# `xtalsym` package; its settings are the config slice it depends on (params), so a change
# reruns exactly the stages it affects. Artifact contracts: docs/artifacts.md.

from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/structures.smk"
include: "workflow/rules/patterns.smk"
include: "workflow/rules/shaping.smk"
include: "workflow/rules/split.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/learning_curve.smk"


rule all:
    default_target: True
    input:
        all_outputs(),
