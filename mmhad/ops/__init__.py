from .ach import CrossHadamardFunction, cross_hadamard  # noqa: F401
__all__ = ['cross_hadamard', 'CrossHadamardFunction']
