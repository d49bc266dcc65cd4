from . import backbones, heads, layers  # noqa: F401  (registers every model in MODELS)
from .backbones import *  # noqa: F401,F403
from .heads import *  # noqa: F401,F403
from .layers import *  # noqa: F401,F403
from .deploy import switch_to_deploy  # noqa: F401
