from .ach import CrossHadamardFunction, cross_hadamard, use_cpu_extension  # noqa: F401

__all__ = ['cross_hadamard', 'CrossHadamardFunction', 'use_cpu_extension']
