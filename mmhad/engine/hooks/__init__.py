from .deploy_hook import SwitchToDeployHook
from .rng_state_hook import RNGStateHook, get_rng_state, set_rng_state

__all__ = ['RNGStateHook', 'SwitchToDeployHook', 'get_rng_state', 'set_rng_state']
