"""What tools/train.py and tools/test.py share: arguments, config loading, Runner.

Configs are read by ``mmhad.utils.config_model.load_config`` (files and ``pkg::`` paths),
the loader of every mmhad tool; :func:`load_config` here adds the training CLI's part.
"""
import os
import os.path as osp
import sys

from mmengine.config import DictAction


def add_common_args(parser):
    parser.add_argument('--work-dir', help='where logs and checkpoints go '
                        '(default: ./work_dirs/<config name>)')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config entries, e.g. train_cfg.max_epochs=1 '
        'train_dataloader.batch_size=2')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    # torch.distributed.launch passes --local-rank (torchrun sets LOCAL_RANK)
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    return parser


def load_config(args, loaders):
    """Read the config, apply CLI options, prepare/check its data before any build."""
    import mmhad  # noqa: F401  (registers modules, checks the stack)
    from mmhad.utils import config_model
    from mmhad.utils.compat import apply_runtime_patches
    from mmhad.utils.data_check import prepare_data

    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    apply_runtime_patches()
    # a file or `pkg::rel/path.py`; a missing one fails here, naming it
    cfg = config_model.load_config(args.config, args.cfg_options)
    cfg.launcher = args.launcher
    if args.work_dir:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        # `num_workers=0` (e.g. from --cfg-options) with the config's persistent workers
        # would be refused by torch's DataLoader
        if cfg.get(loader) and cfg[loader].get('num_workers', 1) == 0:
            cfg[loader]['persistent_workers'] = False
    from mmhad.engine.distributed import cpu_ddp_wrapper_cfg, init_distributed
    if init_distributed(cfg):  # gloo without CUDA; rank 0 alone writes generated data
        import torch.distributed as dist
        error = None
        if dist.get_rank() == 0:
            try:
                prepare_data(cfg, loaders=loaders, config_path=args.config)
            except Exception as exc:  # noqa: BLE001  (the other ranks must not hang)
                error = exc
        dist.barrier()
        if error is not None:
            raise error
        if dist.get_rank() != 0:
            prepare_data(cfg, loaders=loaders, config_path=args.config)
        cpu_ddp_wrapper_cfg(cfg)
    else:
        prepare_data(cfg, loaders=loaders, config_path=args.config)
    return cfg


def build_runner(cfg):
    from mmengine.model import is_model_wrapper
    from mmengine.registry import RUNNERS
    from mmengine.runner import Runner

    from mmhad.engine import KeepOptimizerOptionsHook, RNGStateHook, count_norm_layers
    runner = RUNNERS.build(cfg) if 'runner_type' in cfg else Runner.from_cfg(cfg)
    # resuming continues the random streams instead of re-seeding them
    runner.register_hook(RNGStateHook())
    # resuming keeps the config's optimizer kernel (fused), not the checkpoint's
    runner.register_hook(KeepOptimizerOptionsHook())
    model = runner.model.module if is_model_wrapper(runner.model) else runner.model
    norms = count_norm_layers(model)
    if any(norms.values()):
        runner.logger.info(f'norm layers: {norms["SyncBatchNorm"]} SyncBatchNorm, '
                           f'{norms["BatchNorm"]} BatchNorm (world size '
                           f'{runner.world_size})')
    return runner


def run_cli(main):
    """Run a tool's main; user errors (missing data, bad checkpoint) print one message."""
    from mmhad.utils.checkpoint import CheckpointError
    from mmhad.utils.data_check import MissingDataError
    try:
        main()
    except (MissingDataError, CheckpointError) as exc:
        sys.stderr.write(f'error: {exc}\n')
        sys.exit(2)
