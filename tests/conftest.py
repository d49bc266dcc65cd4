"""Suite-wide isolation.

MMEngine keeps the default registry scope in a global (``DefaultScope``): a Runner built in
one test (scope ``mmdet``) would make a later ``mmpretrain`` build look in the wrong
registry. Each test starts from, and leaves behind, the scope state it found.
"""
import copy

import pytest
from mmengine.registry import DefaultScope


@pytest.fixture(autouse=True)
def isolated_default_scope():
    saved = copy.copy(DefaultScope._instance_dict)
    yield
    DefaultScope._instance_dict = saved
