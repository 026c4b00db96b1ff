rule split_dataset:
    input:
        structures=rules.generate_structures.output.table,
    output:
        split=f"{R}/split/split.csv",
        counts=f"{R}/split/class_counts.csv",
        weights=f"{R}/split/class_weights.csv",
        figure=report(
            f"{R}/split/class_counts.png",
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
        mem_mb=4000,
        runtime=30,
    params:
        cfg=stage_params("classes", "split"),
        outdir=lambda w, output: parent(output.split),
    shell:
        "xtalsym split --params {params.cfg:q} --structures {input.structures}"
        " --out {params.outdir} > {log} 2>&1"
