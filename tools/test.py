"""Evaluate a checkpoint of any mmhad config with MMEngine's Runner.

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out results.pkl]
                                           [--deploy] [--cfg-options k=v ...] [--launcher ...]

``--deploy`` evaluates the inference form (``switch_to_deploy``: BatchNorms fused, layer
scales folded), which gives the same predictions up to float rounding.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from tools.common import (add_common_args, build_runner, load_config,  # noqa: E402
                          run_cli)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Test a model with mmhad')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--out', help='dump raw predictions to this .pkl file')
    parser.add_argument('--deploy', action='store_true',
                        help='evaluate the deploy form (switch_to_deploy) of the model')
    add_common_args(parser)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    from mmhad.utils.checkpoint import (check_state_dict_matches, extract_state_dict,
                                        load_checkpoint_file)

    # missing / empty / truncated checkpoints fail here, before any build, as a
    # CheckpointError (one message, exit code 2) instead of a pickle traceback
    state = extract_state_dict(load_checkpoint_file(args.checkpoint))
    cfg = load_config(args, loaders=('test_dataloader', ))
    cfg.load_from = args.checkpoint
    if args.out:
        if not args.out.endswith(('.pkl', '.pickle')):
            raise ValueError('--out must end with .pkl or .pickle')
        cfg.test_evaluator = list(cfg.test_evaluator) if isinstance(
            cfg.test_evaluator, (list, tuple)) else [cfg.test_evaluator]
        cfg.test_evaluator.append(dict(type='DumpResults', out_file_path=args.out))
    if args.deploy:  # after the checkpoint is loaded, before the test loop
        cfg.custom_hooks = list(cfg.get('custom_hooks') or []) + [
            dict(type='SwitchToDeployHook')]
    runner = build_runner(cfg)
    # mmengine loads with strict=False and only logs missing keys: weights of another
    # model (other arch, other class count) would be evaluated half-random. Refuse them.
    from mmengine.model import is_model_wrapper
    model = runner.model.module if is_model_wrapper(runner.model) else runner.model
    check_state_dict_matches(model, state)
    del state
    return runner.test()


if __name__ == '__main__':
    run_cli(main)
