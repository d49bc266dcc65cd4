"""Suite-wide isolation.

MMEngine keeps the default registry scope in a global (``DefaultScope``): a Runner built in
one test (scope ``mmdet``) would make a later ``mmpretrain`` build look in the wrong
registry. Each test starts from, and leaves behind, the scope state it found.
"""
import copy

import pytest
import torch
from mmengine.registry import DefaultScope


@pytest.fixture(autouse=True)
def isolated_default_scope():
    saved = copy.copy(DefaultScope._instance_dict)
    yield
    DefaultScope._instance_dict = saved


@pytest.fixture(scope='module')
def one_thread():
    """One intra-op thread for modules of many tiny forwards: with two threads on a busy
    2-core machine they ran 5-20x slower. Use with
    ``pytestmark = pytest.mark.usefixtures('one_thread')``."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
