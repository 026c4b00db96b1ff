if SHARDS == 1:

    rule shape_patterns:
        input:
            patterns=P("patterns"),
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
        wildcard_constraints:
            mode=SHAPED_MODES,
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

else:

    # One patterns shard -> one images shard of the same rows, per mode.
    rule shape_patterns_shard:
        input:
            patterns=P("patterns_shard"),
        output:
            images=P("images_shard"),
        log:
            f"{R}/logs/shape_patterns_shard_{{mode}}-{{shard}}.log",
        benchmark:
            f"{R}/benchmarks/shape_patterns_shard_{{mode}}-{{shard}}.tsv"
        wildcard_constraints:
            mode=SHAPED_MODES,
        conda:
            ENV
        threads: config["shaping"]["workers"]
        resources:
            mem_mb=lambda wc, attempt: 16000 * attempt,
            runtime=max(60, 2 * 360 // SHARDS),
        params:
            runtime_args=runtime_args,
            cfg=stage_params("shaping", drop=["shaping.modes"]),
        shell:
            "xtalsym shaping --params {params.cfg:q} {params.runtime_args}"
            " --patterns {input.patterns} --mode {wildcards.mode} --out {output.images}"
            " > {log} 2>&1"

    # {mode}.h5 as virtual datasets over the images shards, and the figure.
    rule gather_shaping:
        input:
            patterns=P("patterns"),
            shards=images_shards,
        output:
            images=P("images"),
            figure=report(
                P("shaping_figure"),
                caption="../report/shaping.rst",
                category="Data",
                subcategory="{mode}",
            ),
        log:
            f"{R}/logs/gather_shaping_{{mode}}.log",
        benchmark:
            f"{R}/benchmarks/gather_shaping_{{mode}}.tsv"
        wildcard_constraints:
            mode=SHAPED_MODES,
        conda:
            ENV
        threads: 1
        resources:
            mem_mb=lambda wc, attempt: 4000 * attempt,
            runtime=30,
        params:
            runtime_args=runtime_args,
            cfg=stage_params("shaping", drop=["shaping.modes"]),
        shell:
            "xtalsym shaping --params {params.cfg:q} {params.runtime_args}"
            " --patterns {input.patterns} --mode {wildcards.mode} --gather {input.shards}"
            " --out {output.images} --figure {output.figure} > {log} 2>&1"


if SHAPED_MODES == "shaped":

    # unshaped.h5 as virtual datasets over shaped.h5's channel S (xtalsym.shaping.view).
    rule view_unshaped:
        input:
            shaped=P("images").format(mode="shaped"),
            patterns=P("patterns"),
        output:
            images=P("images").format(mode="unshaped"),
            figure=report(
                P("shaping_figure").format(mode="unshaped"),
                caption="../report/shaping.rst",
                category="Data",
                subcategory="unshaped",
            ),
        log:
            f"{R}/logs/view_unshaped.log",
        benchmark:
            f"{R}/benchmarks/view_unshaped.tsv"
        conda:
            ENV
        threads: 1
        resources:
            mem_mb=lambda wc, attempt: 4000 * attempt,
            runtime=30,
        params:
            runtime_args=runtime_args,
            cfg=stage_params("shaping", drop=["shaping.modes"]),
        shell:
            "xtalsym shaping --params {params.cfg:q} {params.runtime_args} --mode unshaped"
            " --view-of {input.shaped} --patterns {input.patterns} --out {output.images}"
            " --figure {output.figure} > {log} 2>&1"
