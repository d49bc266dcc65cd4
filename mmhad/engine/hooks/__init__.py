from .deploy_hook import SwitchToDeployHook
from .optimizer_options_hook import KeepOptimizerOptionsHook
from .rng_state_hook import RNGStateHook, get_rng_state, set_rng_state

__all__ = ['KeepOptimizerOptionsHook', 'RNGStateHook', 'SwitchToDeployHook', 'get_rng_state',
           'set_rng_state']
