rule shape_patterns:
    input:
        patterns=rules.simulate_patterns.output.patterns,
    output:
        images=P("images"),
        figure=report(
            P("shaping_figure"),
            caption="../report/shaping.rst",
            category="Data",
            subcategory="{mode}",
        ),
    log:
        f"{R}/logs/shape_patterns_{{mode}}.log",
    benchmark:
        f"{R}/benchmarks/shape_patterns_{{mode}}.tsv"
    conda:
        ENV
    threads: config["shaping"]["workers"]
    resources:
        mem_mb=lambda wc, attempt: 16000 * attempt,
        runtime=360,
    params:
        runtime_args=runtime_args,
        # the job's mode is its wildcard: the list of modes to make is not a setting of it
        cfg=stage_params("shaping", drop=["shaping.modes"]),
    shell:
        "xtalsym shaping --params {params.cfg:q} {params.runtime_args}"
        " --patterns {input.patterns} --mode {wildcards.mode} --out {output.images}"
        " --figure {output.figure} > {log} 2>&1"
