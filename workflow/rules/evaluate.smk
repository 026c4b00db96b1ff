rule evaluate_model:
    input:
        bundle=rules.train_model.output.weights,
        card=rules.train_model.output.card,
        images=model_images,
        split=rules.split_dataset.output.split,
    output:
        metrics=P("metrics"),
        predictions=P("predictions"),
        per_class=P("per_class"),
        confusion_sg=report(
            P("confusion_sg"),
            caption="../report/confusion_sg.rst",
            category="Evaluation",
            subcategory="{model}",
        ),
        confusion_cs=report(
            P("confusion_cs"),
            caption="../report/confusion_cs.rst",
            category="Evaluation",
            subcategory="{model}",
        ),
        reliability=f"{R}/evaluate/{{model}}/reliability.png",
        risk_coverage=f"{R}/evaluate/{{model}}/risk_coverage.png",
        views=f"{R}/evaluate/{{model}}/views.csv",
        calibration=f"{R}/evaluate/{{model}}/calibration.json",
    log:
        f"{R}/logs/evaluate_model_{{model}}.log",
    benchmark:
        f"{R}/benchmarks/evaluate_model_{{model}}.tsv"
    conda:
        ENV_TRAIN
    threads: 2
    resources:
        mem_mb=lambda wc, attempt: 16000 * attempt,
        runtime=240,
    params:
        runtime_args=runtime_args,
        # the robustness levels are evaluate_robustness's: changing them reruns only it
        cfg=stage_params(
            "classes",
            "evaluate",
            drop=["evaluate.robustness", "evaluate.learning_curve"],
        ),
        bundle=lambda w, input: parent(input.bundle),
        outdir=lambda w, output: parent(output.metrics),
    shell:
        "xtalsym evaluate --params {params.cfg:q} {params.runtime_args}"
        " --model {params.bundle} --images {input.images} --split {input.split}"
        " --out {params.outdir} > {log} 2>&1"


rule evaluate_real:
    # one job for every model: each literature file is read, labelled and simulated once
    input:
        bundles=expand(P("weights"), model=MODELS),
        structures=real_structure_files,
    output:
        metrics=expand(P("real_metrics"), model=MODELS),
        predictions=expand(P("real_predictions"), model=MODELS),
        per_class=expand(P("real_per_class"), model=MODELS),
        outcomes=expand(P("real_outcomes"), model=MODELS),
        confusion_sg=expand(P("real_confusion_sg"), model=MODELS),
        confusion_cs=expand(P("real_confusion_cs"), model=MODELS),
    log:
        f"{R}/logs/evaluate_real.log",
    benchmark:
        f"{R}/benchmarks/evaluate_real.tsv"
    conda:
        ENV_TRAIN
    threads: 1
    resources:
        mem_mb=lambda wc, attempt: 8000 * attempt,
        runtime=60,
    params:
        structures=config["evaluate"]["real_structures"],
        symprec=config["structures"]["symprec"],
        bundles=lambda w, input: [parent(b) for b in input.bundles],
        outdirs=lambda w, output: [parent(m) for m in output.metrics],
    shell:
        "xtalsym evaluate --structures {params.structures:q} --model {params.bundles}"
        " --symprec {params.symprec} --out {params.outdirs} > {log} 2>&1"


rule evaluate_robustness:
    input:
        bundles=expand(P("weights"), model=MODELS),
        cards=expand(P("card"), model=MODELS),
        structures=P("structures"),
        split=rules.split_dataset.output.split,
    output:
        table=P("robustness"),
        figure=report(
            P("robustness_figure"),
            caption="../report/robustness.rst",
            category="Evaluation",
        ),
    log:
        f"{R}/logs/evaluate_robustness.log",
    benchmark:
        f"{R}/benchmarks/evaluate_robustness.tsv"
    conda:
        ENV_TRAIN
    threads: config["evaluate"]["workers"]
    resources:
        mem_mb=lambda wc, attempt: 32000 * attempt,
        runtime=720,
    params:
        runtime_args=runtime_args,
        cfg=stage_params(
            "classes", "evaluate", drop=["evaluate.top_k", "evaluate.learning_curve"]
        ),
        bundles=lambda w, input: [parent(b) for b in input.bundles],
        outdir=lambda w, output: parent(output.table),
    shell:
        "xtalsym robustness --params {params.cfg:q} {params.runtime_args}"
        " --models {params.bundles} --structures {input.structures} --split {input.split}"
        " --out {params.outdir} > {log} 2>&1"


rule build_report:
    input:
        # every file the report reads, so a renamed or missing one is a DAG error
        metrics=expand(P("metrics"), model=MODELS),
        per_class=expand(P("per_class"), model=MODELS),
        confusion_sg=expand(P("confusion_sg"), model=MODELS),
        confusion_cs=expand(P("confusion_cs"), model=MODELS),
        histories=expand(P("history"), model=MODELS),
        robustness=robustness_outputs(),
        outcomes=P("outcomes"),
        realism=P("realism"),
        realism_figure=P("realism_figure"),
        real=real_outputs(),
        learning_curve=learning_curve_outputs(),
        structures=P("structure_counts"),
        structures_figure=P("structure_counts_figure"),
        split=rules.split_dataset.output.counts,
        split_figure=rules.split_dataset.output.figure,
        excluded=rules.split_dataset.output.excluded,
        figures=[
            P("patterns_figure"),
            *expand(P("shaping_figure"), mode=MODES),
        ],
    output:
        index=P("report"),
        markdown=P("report_markdown"),
        metrics=P("report_metrics"),
    log:
        f"{R}/logs/build_report.log",
    benchmark:
        f"{R}/benchmarks/build_report.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=lambda wc, attempt: 4000 * attempt,
        runtime=30,
    params:
        runtime_args=runtime_args,
        cfg=report_config(),
        robustness=lambda w, input: (
            f"--robustness {input.robustness[0]}" if input.robustness else ""
        ),
        real=lambda w, input: (
            f"--real-metrics {' '.join(input.real)}" if input.real else ""
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
        " --histories {input.histories} {params.robustness} {params.real}"
        " --structures-dir {params.structures_dir} --split-dir {params.split_dir}"
        " {params.learning_curve} --figures {input.figures} --out {params.outdir} > {log} 2>&1"
