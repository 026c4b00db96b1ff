rule train_model:
    input:
        images=model_images,
        split=rules.split_dataset.output.split,
        weights=rules.split_dataset.output.weights,
    output:
        weights=P("weights"),
        card=P("card"),
        history=P("history"),
    log:
        f"{R}/logs/train_model_{{model}}.log",
    benchmark:
        f"{R}/benchmarks/train_model_{{model}}.tsv"
    conda:
        ENV_TRAIN
    threads: max(1, config["train"]["workers"])
    resources:
        mem_mb=lambda wc, attempt: 64000 * attempt,
        runtime=1440,
        gpu=lambda w: 1 if config["train"]["device"] == "cuda" else 0,
    params:
        runtime_args=runtime_args,
        cfg=train_params,
        outdir=lambda w, output: parent(output.weights),
        ckpt=lambda w: P("checkpoint_dir").format(model=w.model),
    shell:
        "xtalsym train --params {params.cfg:q} {params.runtime_args}"
        " --model {wildcards.model} --images {input.images} --split {input.split}"
        " --weights {input.weights} --out {params.outdir} --checkpoint-dir {params.ckpt}"
        " > {log} 2>&1"
