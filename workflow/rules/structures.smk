if SHARDS == 1:

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

else:

    # CIFs hashed to the shard by path and every SHARDS-th chunk of the synthetic crystals,
    # parsed or generated into the stage's caches; memory as in the unsharded job.
    rule generate_structures_shard:
        output:
            manifest=P("structures_shard"),
        log:
            f"{R}/logs/generate_structures_shard_{{shard}}.log",
        benchmark:
            f"{R}/benchmarks/generate_structures_shard_{{shard}}.tsv"
        conda:
            ENV
        threads: config["structures"]["workers"]
        resources:
            mem_mb=lambda wc, attempt: 16000 * attempt,
            runtime=max(60, 2 * 360 // SHARDS),
        params:
            runtime_args=runtime_args,
            cfg=stage_params("classes", "structures"),
            shard=shard_of,
            outdir=lambda w: parent(P("structures")),
        shell:
            "xtalsym structures --params {params.cfg:q} {params.runtime_args}"
            " --shard {params.shard} --out {params.outdir} > {log} 2>&1"

    # The artifacts from what the shards cached (the rest of the work, a few per cent, here).
    rule gather_structures:
        input:
            shards=structures_shards,
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
            f"{R}/logs/gather_structures.log",
        benchmark:
            f"{R}/benchmarks/gather_structures.tsv"
        conda:
            ENV
        threads: config["structures"]["workers"]
        resources:
            mem_mb=lambda wc, attempt: 16000 * attempt,
            runtime=120,
        params:
            runtime_args=runtime_args,
            cfg=stage_params("classes", "structures"),
            outdir=lambda w, output: parent(output.table),
        shell:
            "xtalsym structures --params {params.cfg:q} {params.runtime_args}"
            " --gather {input.shards} --out {params.outdir} > {log} 2>&1"
