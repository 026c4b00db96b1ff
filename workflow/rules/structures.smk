rule generate_structures:
    output:
        table=f"{R}/structures/structures.parquet",
        outcomes=f"{R}/structures/outcomes.csv",
        counts=f"{R}/structures/class_counts.csv",
        figure=report(
            f"{R}/structures/class_counts.png",
            caption="../report/class_counts.rst",
            category="Data",
        ),
        realism=f"{R}/structures/realism.csv",
        realism_figure=report(
            f"{R}/structures/realism.png",
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
        mem_mb=16000,
        runtime=360,
    params:
        cfg=stage_params("classes", "structures"),
        outdir=lambda w, output: parent(output.table),
    shell:
        "xtalsym structures --params {params.cfg:q} --out {params.outdir} > {log} 2>&1"
