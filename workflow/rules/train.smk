# train.processes > 1: one process per GPU. `xtalsym train` starts them itself (srun inside a
# SLURM job, torchrun elsewhere); under SLURM the job asks for that many tasks, one GPU each,
# and `mpi` makes the SLURM plugin run the rule's command in the batch step instead of
# wrapping it in a one-task `srun`, so that xtalsym's own srun starts the tasks.
TRAIN_PROCESSES = config["train"]["processes"]
TRAIN_MULTI = (
    {"tasks": TRAIN_PROCESSES, "tasks_per_gpu": 1, "mpi": "srun"}
    if TRAIN_PROCESSES > 1
    else {}
)


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
        **TRAIN_MULTI,
        mem_mb=lambda wc, attempt: 64000 * attempt,
        runtime=1440,
        gpu=lambda w: TRAIN_PROCESSES if config["train"]["device"] == "cuda" else 0,
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
