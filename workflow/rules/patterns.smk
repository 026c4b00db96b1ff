if SHARDS == 1:

    rule simulate_patterns:
        input:
            structures=P("structures"),
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

else:

    # One block of the structures table per job; memory is bounded by chunk_size and workers
    # as in the unsharded job, the run time is about 1/SHARDS of it.
    rule simulate_patterns_shard:
        input:
            structures=P("structures"),
        output:
            patterns=P("patterns_shard"),
        log:
            f"{R}/logs/simulate_patterns_shard_{{shard}}.log",
        benchmark:
            f"{R}/benchmarks/simulate_patterns_shard_{{shard}}.tsv"
        conda:
            ENV
        threads: config["patterns"]["workers"]
        resources:
            mem_mb=lambda wc, attempt: 16000 * attempt,
            runtime=max(60, 2 * 480 // SHARDS),
        params:
            runtime_args=runtime_args,
            cfg=stage_params("patterns"),
            shard=shard_of,
        shell:
            "xtalsym patterns --params {params.cfg:q} {params.runtime_args}"
            " --structures {input.structures} --shard {params.shard}"
            " --out {output.patterns} > {log} 2>&1"

    # patterns.h5 as virtual datasets over the shards (no pixel copied), and the figure.
    rule gather_patterns:
        input:
            structures=P("structures"),
            shards=patterns_shards,
        output:
            patterns=P("patterns"),
            figure=report(
                P("patterns_figure"),
                caption="../report/patterns.rst",
                category="Data",
            ),
        log:
            f"{R}/logs/gather_patterns.log",
        benchmark:
            f"{R}/benchmarks/gather_patterns.tsv"
        conda:
            ENV
        threads: 1
        resources:
            mem_mb=lambda wc, attempt: 4000 * attempt,
            runtime=30,
        params:
            runtime_args=runtime_args,
            cfg=stage_params("patterns"),
        shell:
            "xtalsym patterns --params {params.cfg:q} {params.runtime_args}"
            " --structures {input.structures} --gather {input.shards}"
            " --out {output.patterns} --figure {output.figure} > {log} 2>&1"
