from setuptools import find_packages, setup


def readme():
    with open('README.md', encoding='utf-8') as f:
        return f.read()


def version():
    scope = {}
    with open('mmhad/version.py', encoding='utf-8') as f:
        exec(f.read(), scope)
    return scope['__version__']


def parse_requirements(path):
    with open(path, encoding='utf-8') as f:
        lines = (line.split('#')[0].strip() for line in f)
        return [line for line in lines if line]


setup(
    name='mmhad',
    version=version(),
    description='EMO, EfficientMod and Hadaptive-Net backbones for OpenMMLab 2.0 '
    'detection, segmentation and classification',
    long_description=readme(),
    long_description_content_type='text/markdown',
    packages=find_packages(include=('mmhad', 'mmhad.*')),
    # the ACH CPU kernel's source, compiled on the user's machine into PyTorch's
    # extension cache (tools/install.sh, or on first use): see mmhad/ops/kernels/cpu_ext.py
    package_data={'mmhad.ops': ['csrc/*.cpp']},
    python_requires='>=3.9',
    install_requires=parse_requirements('requirements/runtime.txt'),
    extras_require={'tests': parse_requirements('requirements/tests.txt')},
    license='Apache License 2.0',
    zip_safe=False,
)
