from .amp import CPUAutocastOptimWrapper, enable_amp

__all__ = ['CPUAutocastOptimWrapper', 'enable_amp']
