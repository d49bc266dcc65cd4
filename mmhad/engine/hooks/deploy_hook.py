"""Evaluate the inference form: ``custom_hooks = [dict(type='SwitchToDeployHook')]``.

Before the test loop (after the checkpoint is loaded), the model is switched to its
deploy form (:func:`mmhad.models.deploy.switch_to_deploy`: backbone folds, every neck /
head Conv + BatchNorm fused). Validation during training is left alone: a deployed model
cannot train. ``tools/test.py --deploy`` adds this hook.

With an ``EMAHook`` (e.g. the demo config), the averaged weights are what is tested: they
are copied into the model first, and the EMA hook is taken out of this test-only run,
since it would swap parameters of the training form's shapes in and out of the fused
model around the test epoch.
"""
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS

__all__ = ['SwitchToDeployHook']


@HOOKS.register_module()
class SwitchToDeployHook(Hook):
    priority = 'VERY_HIGH'  # before anything else sees the test-time model

    def before_test(self, runner) -> None:
        from mmengine.hooks import EMAHook

        from mmhad.models.deploy import switch_to_deploy
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        for hook in [h for h in runner.hooks if isinstance(h, EMAHook)]:
            model.load_state_dict(hook.ema_model.module.state_dict())
            runner._hooks.remove(hook)
            runner.logger.info('testing the EMA weights (EMAHook) in the deploy form')
        switch_to_deploy(model)
        runner.logger.info(f'{type(model).__name__} switched to its deploy form')
