rule simulate_patterns:
    input:
        structures=rules.generate_structures.output.table,
    output:
        patterns=P("patterns"),
        figure=report(
            P("patterns_figure"),
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
        mem_mb=lambda wc, attempt: 16000 * attempt,
        runtime=480,
    params:
        runtime_args=runtime_args,
        cfg=stage_params("patterns"),
    shell:
        "xtalsym patterns --params {params.cfg:q} {params.runtime_args}"
        " --structures {input.structures} --out {output.patterns} --figure {output.figure}"
        " > {log} 2>&1"
