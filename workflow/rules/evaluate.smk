rule evaluate_model:
    input:
        bundle=rules.train_model.output.weights,
        images=model_images,
        split=rules.split_dataset.output.split,
    output:
        metrics=f"{R}/evaluate/{{model}}/metrics.json",
        predictions=f"{R}/evaluate/{{model}}/predictions.csv",
        per_class=f"{R}/evaluate/{{model}}/per_class.csv",
        confusion_sg=f"{R}/evaluate/{{model}}/confusion_sg.png",
        confusion_cs=f"{R}/evaluate/{{model}}/confusion_cs.png",
    log:
        f"{R}/logs/evaluate_model_{{model}}.log",
    benchmark:
        f"{R}/benchmarks/evaluate_model_{{model}}.tsv"
    conda:
        ENV_TRAIN
    threads: 2
    resources:
        mem_mb=16000,
        runtime=240,
    params:
        cfg=evaluate_params(),
        bundle=lambda w, input: parent(input.bundle),
        outdir=lambda w, output: parent(output.metrics),
    shell:
        "xtalsym evaluate --params {params.cfg:q} --model {params.bundle}"
        " --images {input.images} --split {input.split} --out {params.outdir} > {log} 2>&1"


rule evaluate_robustness:
    input:
        bundles=expand(f"{R}/models/{{model}}/model.pt", model=MODELS),
        structures=rules.generate_structures.output.table,
        split=rules.split_dataset.output.split,
    output:
        table=f"{R}/evaluate/robustness.csv",
        figure=f"{R}/evaluate/robustness.png",
    log:
        f"{R}/logs/evaluate_robustness.log",
    benchmark:
        f"{R}/benchmarks/evaluate_robustness.tsv"
    conda:
        ENV_TRAIN
    threads: config["evaluate"]["workers"]
    resources:
        mem_mb=32000,
        runtime=720,
    params:
        cfg=evaluate_params(),
        bundles=lambda w, input: [parent(b) for b in input.bundles],
        outdir=lambda w, output: parent(output.table),
    shell:
        "xtalsym robustness --params {params.cfg:q} --models {params.bundles}"
        " --structures {input.structures} --split {input.split} --out {params.outdir}"
        " > {log} 2>&1"


rule build_report:
    input:
        metrics=expand(f"{R}/evaluate/{{model}}/metrics.json", model=MODELS),
        histories=expand(f"{R}/models/{{model}}/history.csv", model=MODELS),
        robustness=robustness_outputs(),
        learning_curve=learning_curve_outputs(),
        structures=rules.generate_structures.output.counts,
        split=rules.split_dataset.output.counts,
    output:
        index=f"{R}/report/index.html",
        markdown=f"{R}/report/index.md",
        metrics=f"{R}/report/metrics.json",
    log:
        f"{R}/logs/build_report.log",
    benchmark:
        f"{R}/benchmarks/build_report.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        cfg=full_config(),
        robustness=lambda w, input: (
            f"--robustness {input.robustness[0]}" if input.robustness else ""
        ),
        learning_curve=lambda w, input: (
            f"--learning-curve {input.learning_curve[0]}"
            if input.learning_curve
            else ""
        ),
        structures_dir=lambda w, input: parent(input.structures),
        split_dir=lambda w, input: parent(input.split),
        outdir=lambda w, output: parent(output.index),
    shell:
        "xtalsym report --params {params.cfg:q} --metrics {input.metrics}"
        " --histories {input.histories} {params.robustness}"
        " --structures-dir {params.structures_dir} --split-dir {params.split_dir}"
        " {params.learning_curve} --out {params.outdir} > {log} 2>&1"
