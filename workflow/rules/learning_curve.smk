# Learning curve (evaluate.learning_curve, off by default; config/learning_curve.yaml):
# each listed model retrained on nested subsets of the training split, at most n crystals
# per space group, and scored on the unchanged test split. Paths: docs/artifacts.md.


rule learning_curve_subset:
    input:
        split=rules.split_dataset.output.split,
    output:
        split=f"{LC}/split_n{{n}}.csv",
        weights=f"{LC}/class_weights_n{{n}}.csv",
    log:
        f"{R}/logs/learning_curve/subset_n{{n}}.log",
    benchmark:
        f"{R}/benchmarks/learning_curve/subset_n{{n}}.tsv"
    wildcard_constraints:
        n=r"\d+",
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        # the seed (which crystals) and the class set (class weights); n is the wildcard
        cfg=stage_params("classes"),
    shell:
        "xtalsym learning-curve subset --params {params.cfg:q} --split {input.split}"
        " --per-class {wildcards.n} --out-split {output.split}"
        " --out-weights {output.weights} > {log} 2>&1"


rule learning_curve_train:
    input:
        images=model_images,
        split=rules.learning_curve_subset.output.split,
        weights=rules.learning_curve_subset.output.weights,
    output:
        weights=f"{LC}/models/{{model}}_n{{n}}/model.pt",
        card=f"{LC}/models/{{model}}_n{{n}}/model_card.json",
        history=f"{LC}/models/{{model}}_n{{n}}/history.csv",
    log:
        f"{R}/logs/learning_curve/train_{{model}}_n{{n}}.log",
    benchmark:
        f"{R}/benchmarks/learning_curve/train_{{model}}_n{{n}}.tsv"
    wildcard_constraints:
        n=r"\d+",
    conda:
        ENV_TRAIN
    threads: max(1, config["train"]["workers"])
    resources:
        mem_mb=64000,
        runtime=1440,
        gpu=lambda w: 1 if config["train"]["device"] == "cuda" else 0,
    params:
        runtime_args=runtime_args,
        cfg=train_params,
        outdir=lambda w, output: parent(output.weights),
        ckpt=lambda w: f"{LC}/train/{w.model}_n{w.n}",
    shell:
        "xtalsym train --params {params.cfg:q} {params.runtime_args}"
        " --model {wildcards.model} --images {input.images} --split {input.split}"
        " --weights {input.weights} --out {params.outdir} --checkpoint-dir {params.ckpt}"
        " > {log} 2>&1"


rule learning_curve_evaluate:
    input:
        bundle=rules.learning_curve_train.output.weights,
        images=model_images,
        # the full split: its test rows are those of every subset
        split=rules.split_dataset.output.split,
    output:
        metrics=f"{LC}/evaluate/{{model}}_n{{n}}/metrics.json",
        predictions=f"{LC}/evaluate/{{model}}_n{{n}}/predictions.csv",
        per_class=f"{LC}/evaluate/{{model}}_n{{n}}/per_class.csv",
        confusion_sg=f"{LC}/evaluate/{{model}}_n{{n}}/confusion_sg.png",
        confusion_cs=f"{LC}/evaluate/{{model}}_n{{n}}/confusion_cs.png",
    log:
        f"{R}/logs/learning_curve/evaluate_{{model}}_n{{n}}.log",
    benchmark:
        f"{R}/benchmarks/learning_curve/evaluate_{{model}}_n{{n}}.tsv"
    wildcard_constraints:
        n=r"\d+",
    conda:
        ENV_TRAIN
    threads: 2
    resources:
        mem_mb=16000,
        runtime=240,
    params:
        cfg=learning_curve_eval_params(),
        bundle=lambda w, input: parent(input.bundle),
        outdir=lambda w, output: parent(output.metrics),
    shell:
        "OMP_NUM_THREADS={threads} xtalsym evaluate --params {params.cfg:q}"
        " --model {params.bundle} --images {input.images} --split {input.split}"
        " --out {params.outdir} > {log} 2>&1"


rule learning_curve_aggregate:
    input:
        metrics=learning_curve_runs(rules.learning_curve_evaluate.output.metrics),
        cards=learning_curve_runs(rules.learning_curve_train.output.card),
        benchmarks=learning_curve_runs(
            f"{R}/benchmarks/learning_curve/train_{{model}}_n{{n}}.tsv"
        ),
    output:
        table=f"{LC}/learning_curve.csv",
        figure=report(
            f"{LC}/learning_curve.png",
            caption="../report/learning_curve.rst",
            category="Evaluation",
        ),
    log:
        f"{R}/logs/learning_curve/aggregate.log",
    benchmark:
        f"{R}/benchmarks/learning_curve/aggregate.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        # the class set (the chance line); every number comes from the inputs
        cfg=json.dumps({"classes": config["classes"]}),
        outdir=lambda w, output: parent(output.table),
    shell:
        "xtalsym learning-curve aggregate --params {params.cfg:q}"
        " --metrics {input.metrics} --cards {input.cards} --benchmarks {input.benchmarks}"
        " --out {params.outdir} > {log} 2>&1"
