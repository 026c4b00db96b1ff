rule simulate_patterns:
    input:
        structures=rules.generate_structures.output.table,
    output:
        patterns=f"{R}/patterns/patterns.h5",
        figure=report(
            f"{R}/patterns/examples.png",
            caption="../report/patterns.rst",
            category="Data",
        ),
    log:
        f"{R}/logs/simulate_patterns.log",
    benchmark:
        f"{R}/benchmarks/simulate_patterns.tsv"
    conda:
        ENV
    threads: config["patterns"]["workers"]
    resources:
        mem_mb=16000,
        runtime=480,
    params:
        cfg=stage_params("patterns"),
    shell:
        "xtalsym simulate --params {params.cfg:q} --structures {input.structures}"
        " --out {output.patterns} --figure {output.figure} > {log} 2>&1"
