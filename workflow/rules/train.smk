rule train_model:
    input:
        images=model_images,
        split=rules.split_dataset.output.split,
        weights=rules.split_dataset.output.weights,
    output:
        weights=f"{R}/models/{{model}}/model.pt",
        card=f"{R}/models/{{model}}/model_card.json",
        history=f"{R}/models/{{model}}/history.csv",
    log:
        f"{R}/logs/train_model_{{model}}.log",
    benchmark:
        f"{R}/benchmarks/train_model_{{model}}.tsv"
    conda:
        ENV_TRAIN
    threads: max(1, config["train"]["workers"])
    resources:
        mem_mb=64000,
        runtime=1440,
        gpu=lambda w: 1 if config["train"]["device"] == "cuda" else 0,
    params:
        cfg=train_params(),
        outdir=lambda w, output: parent(output.weights),
        ckpt=lambda w: f"{R}/train/{w.model}",
    shell:
        "xtalsym train --params {params.cfg:q} --model {wildcards.model}"
        " --images {input.images} --split {input.split} --weights {input.weights}"
        " --out {params.outdir} --checkpoint-dir {params.ckpt} > {log} 2>&1"
