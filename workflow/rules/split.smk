rule split_dataset:
    input:
        structures=P("structures"),
        patterns=P("patterns"),
    output:
        split=P("split"),
        counts=P("split_counts"),
        weights=P("class_weights"),
        excluded=P("split_excluded"),
        figure=report(
            P("split_counts_figure"),
            caption="../report/split.rst",
            category="Data",
        ),
    log:
        f"{R}/logs/split_dataset.log",
    benchmark:
        f"{R}/benchmarks/split_dataset.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=lambda wc, attempt: 4000 * attempt,
        runtime=30,
    params:
        cfg=stage_params("classes", "split"),
        outdir=lambda w, output: parent(output.split),
    shell:
        "xtalsym split --params {params.cfg:q} --structures {input.structures}"
        " --patterns {input.patterns} --out {params.outdir} > {log} 2>&1"
