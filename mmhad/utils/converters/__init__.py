"""Key rules that turn official checkpoints into mmhad / OpenMMLab checkpoints.

One module per family; the ``tools/model_converters`` scripts are thin wrappers, and the
tests import the rules from here.
"""
