rule shape_patterns:
    input:
        patterns=rules.simulate_patterns.output.patterns,
    output:
        images=f"{R}/shaping/{{mode}}.h5",
        figure=report(
            f"{R}/shaping/{{mode}}_examples.png",
            caption="../report/shaping.rst",
            category="Data",
        ),
    log:
        f"{R}/logs/shape_patterns_{{mode}}.log",
    benchmark:
        f"{R}/benchmarks/shape_patterns_{{mode}}.tsv"
    conda:
        ENV
    threads: config["shaping"]["workers"]
    resources:
        mem_mb=16000,
        runtime=360,
    params:
        cfg=stage_params("shaping"),
    shell:
        "xtalsym shape --params {params.cfg:q} --patterns {input.patterns}"
        " --mode {wildcards.mode} --out {output.images} --figure {output.figure} > {log} 2>&1"
