rule generate_structures:
    output:
        table=P("structures"),
        outcomes=P("outcomes"),
        counts=P("structure_counts"),
        figure=report(
            P("structure_counts_figure"),
            caption="../report/class_counts.rst",
            category="Data",
        ),
        realism=P("realism"),
        realism_figure=report(
            P("realism_figure"),
            caption="../report/realism.rst",
            category="Data",
        ),
    log:
        f"{R}/logs/generate_structures.log",
    benchmark:
        f"{R}/benchmarks/generate_structures.tsv"
    conda:
        ENV
    threads: config["structures"]["workers"]
    resources:
        mem_mb=lambda wc, attempt: 16000 * attempt,
        runtime=360,
    params:
        runtime_args=runtime_args,
        cfg=stage_params("classes", "structures"),
        outdir=lambda w, output: parent(output.table),
    shell:
        "xtalsym structures --params {params.cfg:q} {params.runtime_args}"
        " --out {params.outdir} > {log} 2>&1"
